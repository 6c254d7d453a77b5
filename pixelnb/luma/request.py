"""The request model: one video generation as Luma's create call takes it, checked before
anything is sent (or paid)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pixelnb.errors import RequestError

__all__ = [
    "ASPECT_RATIOS",
    "DURATIONS",
    "MODELS",
    "REQUEST_KINDS",
    "RESOLUTIONS",
    "GenerationRequest",
    "normalize_keyframes",
    "request_from_json",
]

MODELS = ("ray-2", "ray-flash-2")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
DURATIONS = ("5s", "9s")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")


_GENERATION_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _keyframe(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "image" and isinstance(value.get("url"), str):
            return {"type": "image", "url": value["url"]}
        if kind == "generation" and isinstance(value.get("id"), str):
            return {"type": "generation", "id": value["id"]}
        raise RequestError(f"a keyframe must be an image URL or a generation id, got {dict(value)!r}")
    luma_id = getattr(value, "luma_id", None)  # a finished pixelnb Job
    if luma_id:
        return {"type": "generation", "id": str(luma_id)}
    if isinstance(value, str):
        text = value.strip()
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.hostname:
            return {"type": "image", "url": text}
        if _GENERATION_ID.fullmatch(text):
            return {"type": "generation", "id": text.lower()}
    raise RequestError(
        f"a keyframe must be an http(s) image URL or a Luma generation id (a UUID), got {value!r}"
    )


def normalize_keyframes(keyframes: Any) -> dict[str, dict[str, str]] | None:
    """``"https://..."`` (an image to start from) or ``{"frame0": ..., "frame1": ...}``
    whose values are image URLs, Luma generation ids, finished Jobs or API-style dicts."""
    if keyframes is None:
        return None
    if isinstance(keyframes, str) or hasattr(keyframes, "luma_id"):
        return {"frame0": _keyframe(keyframes)}
    if isinstance(keyframes, Mapping):
        unknown = set(keyframes) - {"frame0", "frame1"}
        if unknown:
            raise RequestError(f"keyframes take 'frame0' and 'frame1', not {sorted(unknown)}")
        out = {k: _keyframe(v) for k, v in keyframes.items() if v is not None}
        return out or None
    raise RequestError(f"keyframes must be an image URL or a dict of frame0/frame1, got {keyframes!r}")


@dataclass(frozen=True)
class GenerationRequest:
    """One video generation as Luma's create call takes it.

    The job layer needs only what every kind of work has: ``kind`` (its name in the store
    and in :data:`REQUEST_KINDS`), ``asset`` (which of the generation's ``assets`` is the
    result), ``validate``, ``to_api``, ``key``, ``matches``, ``to_json`` and ``from_json``.
    An image generation (Photon) is the next kind.
    """

    kind: ClassVar[str] = "video"
    asset: ClassVar[str] = "video"

    prompt: str | None
    model: str = "ray-2"
    aspect_ratio: str = "1:1"
    duration: str = "5s"
    resolution: str = "540p"
    loop: bool = False
    keyframes: dict[str, dict[str, str]] | None = None
    concepts: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(
        cls,
        prompt: str | None,
        *,
        model: str = "ray-2",
        aspect_ratio: str = "1:1",
        duration: str = "5s",
        resolution: str = "540p",
        loop: bool = False,
        keyframes: Any = None,
        concepts: Sequence[str] | None = None,
    ) -> GenerationRequest:
        """Normalise and validate what a person passes; raises :class:`RequestError`.

        Types are checked, not coerced: ``loop="no"`` is an error, not True, and
        ``concepts="dolly_zoom"`` is an error, not seven one-letter concepts.
        """
        if prompt is not None and not isinstance(prompt, str):
            raise RequestError(f"the prompt must be text, not {type(prompt).__name__}")
        if not isinstance(loop, bool):
            raise RequestError(f"loop must be True or False, not {loop!r}")
        if isinstance(concepts, (str, bytes)) or not (
            concepts is None or (isinstance(concepts, Sequence) and all(isinstance(c, str) for c in concepts))
        ):
            raise RequestError(f"concepts must be a list of names such as ['dolly_zoom'], not {concepts!r}")
        for name, value in (
            ("model", model),
            ("aspect_ratio", aspect_ratio),
            ("duration", duration),
            ("resolution", resolution),
        ):
            if not isinstance(value, str):
                raise RequestError(f"{name} must be text such as {cls.__dataclass_fields__[name].default!r}")
        req = cls(
            prompt=prompt.strip() if isinstance(prompt, str) else prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            duration=duration,
            resolution=resolution,
            loop=bool(loop),
            keyframes=normalize_keyframes(keyframes),
            concepts=tuple(concepts or ()),
        )
        req.validate()
        return req

    def validate(self) -> None:
        """The checks Luma documents, made before anything is sent (or paid)."""

        def choose(name: str, value: str, allowed: Sequence[str]) -> None:
            if value not in allowed:
                raise RequestError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")

        choose("model", self.model, MODELS)
        choose("aspect_ratio", self.aspect_ratio, ASPECT_RATIOS)
        choose("duration", self.duration, DURATIONS)
        choose("resolution", self.resolution, RESOLUTIONS)
        kf = self.keyframes or {}
        has_image = any(v.get("type") == "image" for v in kf.values())
        if self.prompt is not None and not isinstance(self.prompt, str):
            raise RequestError("the prompt must be text")
        if not self.prompt and not has_image:
            raise RequestError("a prompt is required (or an image keyframe to start from)")
        if self.prompt and len(self.prompt) < 3:
            raise RequestError("the prompt is too short: use at least 3 characters")
        if self.prompt and len(self.prompt) > 5000:
            raise RequestError("the prompt is too long: use at most 5000 characters")
        if self.loop and "frame1" in kf:
            raise RequestError("loop=True cannot be combined with an end frame (frame1)")
        if self.loop and kf.get("frame0", {}).get("type") == "generation":
            raise RequestError("loop=True cannot be combined with extending a generation")
        for c in self.concepts:
            if not isinstance(c, str) or not c:
                raise RequestError(f"concepts are names such as 'dolly_zoom', got {c!r}")

    def frame_size(self) -> tuple[int, int]:
        """About how large (w, h) the video Luma renders is: the resolution names the
        shorter side, the aspect ratio the other."""
        short = 2160 if self.resolution == "4k" else int(self.resolution.rstrip("p"))
        a, b = (int(v) for v in self.aspect_ratio.split(":"))
        long = round(short * max(a, b) / min(a, b))
        return (long, short) if a >= b else (short, long)

    def to_api(self) -> dict[str, Any]:
        """The JSON body of the create call."""
        body: dict[str, Any] = {
            "model": self.model,
            "aspect_ratio": self.aspect_ratio,
            "duration": self.duration,
            "resolution": self.resolution,
            "loop": self.loop,
        }
        if self.prompt:
            body["prompt"] = self.prompt
        if self.keyframes:
            body["keyframes"] = self.keyframes
        if self.concepts:
            body["concepts"] = [{"key": c} for c in self.concepts]
        return body

    def key(self) -> str:
        """A stable hash of the request: the same request finds the same cached video."""
        blob = json.dumps(self.to_api(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def matches(self, echoed: Mapping[str, Any] | None) -> bool:
        """Whether a generation's echoed ``request`` is this request."""
        if not echoed:
            return False
        mine = self.to_api()
        for k, v in mine.items():
            theirs = echoed.get(k)
            if k == "concepts" and theirs is not None:
                theirs = [{"key": c["key"]} if isinstance(c, Mapping) else c for c in theirs]
            if theirs != v:
                return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        d = json.loads(text)
        d["concepts"] = tuple(d.get("concepts") or ())
        return cls(**d)


# Every kind of work the job layer can follow, by the name the store records.
REQUEST_KINDS: dict[str, type[GenerationRequest]] = {GenerationRequest.kind: GenerationRequest}


def request_from_json(kind: str, text: str) -> GenerationRequest:
    """The request a stored job holds, rebuilt as its own kind."""
    try:
        cls = REQUEST_KINDS[kind]
    except KeyError:
        raise RequestError(
            f"this job is a {kind!r} job, which this version of pixelnb cannot follow; upgrade pixelnb",
            hint="",
        ) from None
    return cls.from_json(text)
