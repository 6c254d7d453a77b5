"""Dream Machine API access: the request model, the client on the official SDK, the poll
policy, and the mapping of Luma's answers to pixelnb's errors.

Modules, lowest first: ``keys`` (where the key comes from), ``request`` (what is sent, and
its checks), ``mapping`` (what comes back, as typed errors), ``poll`` (how a generation is
followed) and ``client`` (the one class that talks to Luma).
"""

from pixelnb.luma.client import DEFAULT_BASE_URL, LumaClient
from pixelnb.luma.keys import resolve_api_key
from pixelnb.luma.mapping import failure_error
from pixelnb.luma.poll import PollPolicy
from pixelnb.luma.request import (
    ASPECT_RATIOS,
    DURATIONS,
    IMAGE_MODELS,
    MODELS,
    REQUEST_KINDS,
    RESOLUTIONS,
    GenerationRequest,
    ImageRequest,
    ModifyRequest,
    normalize_keyframes,
    request_from_json,
)

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_BASE_URL",
    "DURATIONS",
    "IMAGE_MODELS",
    "MODELS",
    "REQUEST_KINDS",
    "RESOLUTIONS",
    "GenerationRequest",
    "ImageRequest",
    "LumaClient",
    "ModifyRequest",
    "PollPolicy",
    "failure_error",
    "normalize_keyframes",
    "request_from_json",
    "resolve_api_key",
]
