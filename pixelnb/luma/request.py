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
    "IMAGE_MODELS",
    "MODELS",
    "REQUEST_KINDS",
    "RESOLUTIONS",
    "GenerationRequest",
    "ImageRequest",
    "ModifyRequest",
    "normalize_keyframes",
    "public_url",
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


def _refs(name: str, value: Any, most: int = 4) -> tuple[tuple[str, float], ...]:
    """Image references as ((url, weight), ...): URLs, (url, weight) pairs or {url, weight}."""
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, Sequence):
        raise RequestError(f"{name} takes image URLs (at most {most}), not {value!r}")
    out = []
    for item in items:
        url, weight = item, 1.0
        if isinstance(item, Mapping):
            url, weight = item.get("url"), item.get("weight", 1.0)
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            url, weight = item
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise RequestError(
                f"{name} takes public http(s) image URLs (Luma cannot read local files), not {url!r}"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise RequestError(f"{name} weights are from 0 to 1, not {weight!r}")
        out.append((url, float(weight)))
    if len(out) > most:
        raise RequestError(f"{name} takes at most {most} images, got {len(out)}")
    return tuple(out)


def _echoes(body: Mapping[str, Any], echoed: Mapping[str, Any] | None) -> bool:
    """Whether a generation's echoed request holds every field of ``body`` as sent."""
    if not echoed:
        return False
    return all(echoed.get(k) == v for k, v in body.items())


IMAGE_MODELS = ("photon-1", "photon-flash-1")
# About the size (w, h) of a Photon image; only _check_fits reads it (pixelnb only shrinks).
_IMAGE_SHORT_SIDE = 768


@dataclass(frozen=True)
class ImageRequest(GenerationRequest):
    """One Photon image generation (``POST /generations/image``): a prompt, a model, an
    aspect ratio and optional references (``image_ref``, ``style_ref``, ``character_ref``,
    ``modify_image_ref``) as public URLs. ``take`` tells candidates of one prompt apart:
    it is part of the request's key (so each is paid for once) but is not sent."""

    kind: ClassVar[str] = "image"
    asset: ClassVar[str] = "image"

    model: str = "photon-1"
    image_ref: tuple[tuple[str, float], ...] = ()
    style_ref: tuple[tuple[str, float], ...] = ()
    character_ref: tuple[str, ...] = ()
    modify_image_ref: tuple[str, float] | None = None
    take: int = 0

    @classmethod
    def build_image(
        cls,
        prompt: str | None,
        *,
        model: str = "photon-1",
        aspect_ratio: str = "1:1",
        image_ref: Any = None,
        style_ref: Any = None,
        character_ref: Any = None,
        modify_image_ref: Any = None,
        take: int = 0,
    ) -> ImageRequest:
        """Normalise and validate what a person passes; raises :class:`RequestError`."""
        if prompt is not None and not isinstance(prompt, str):
            raise RequestError(f"the prompt must be text, not {type(prompt).__name__}")
        for name, value in (("model", model), ("aspect_ratio", aspect_ratio)):
            if not isinstance(value, str):
                raise RequestError(f"{name} must be text, not {value!r}")
        chars = _refs("character_ref", character_ref)
        mods = _refs("modify_image_ref", modify_image_ref, most=1)
        req = cls(
            prompt=prompt.strip() if isinstance(prompt, str) else prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            image_ref=_refs("image_ref", image_ref),
            style_ref=_refs("style_ref", style_ref),
            character_ref=tuple(url for url, _ in chars),
            modify_image_ref=mods[0] if mods else None,
            take=take,
        )
        req.validate()
        return req

    def validate(self) -> None:
        if self.model not in IMAGE_MODELS:
            raise RequestError(f"unknown model {self.model!r}; choose one of: {', '.join(IMAGE_MODELS)}")
        if self.aspect_ratio not in ASPECT_RATIOS:
            raise RequestError(
                f"unknown aspect_ratio {self.aspect_ratio!r}; choose one of: {', '.join(ASPECT_RATIOS)}"
            )
        if not self.prompt and self.modify_image_ref is None:
            raise RequestError("a prompt is required (or an image to modify)")
        if self.prompt and not 3 <= len(self.prompt) <= 5000:
            raise RequestError("the prompt must be from 3 to 5000 characters")
        if isinstance(self.take, bool) or not isinstance(self.take, int) or self.take < 0:
            raise RequestError(f"take must be a whole number of 0 or more, not {self.take!r}")

    def frame_size(self) -> tuple[int, int]:
        a, b = (int(v) for v in self.aspect_ratio.split(":"))
        long = round(_IMAGE_SHORT_SIDE * max(a, b) / min(a, b))
        return (long, _IMAGE_SHORT_SIDE) if a >= b else (_IMAGE_SHORT_SIDE, long)

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "aspect_ratio": self.aspect_ratio}
        if self.prompt:
            body["prompt"] = self.prompt
        if self.image_ref:
            body["image_ref"] = [{"url": u, "weight": w} for u, w in self.image_ref]
        if self.style_ref:
            body["style_ref"] = [{"url": u, "weight": w} for u, w in self.style_ref]
        if self.character_ref:
            body["character_ref"] = {"identity0": {"images": list(self.character_ref)}}
        if self.modify_image_ref:
            body["modify_image_ref"] = {"url": self.modify_image_ref[0], "weight": self.modify_image_ref[1]}
        return body

    def key(self) -> str:
        blob = json.dumps({**self.to_api(), "take": self.take}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def matches(self, echoed: Mapping[str, Any] | None) -> bool:
        return _echoes(self.to_api(), echoed)

    @classmethod
    def from_json(cls, text: str) -> ImageRequest:
        d = json.loads(text)
        d["concepts"] = tuple(d.get("concepts") or ())
        for name in ("image_ref", "style_ref"):
            d[name] = tuple(tuple(x) for x in d.get(name) or ())
        d["character_ref"] = tuple(d.get("character_ref") or ())
        if d.get("modify_image_ref") is not None:
            d["modify_image_ref"] = tuple(d["modify_image_ref"])
        return cls(**d)


MODIFY_MODES = tuple(f"{m}_{i}" for m in ("adhere", "flex", "reimagine") for i in (1, 2, 3))


def public_url(name: str, value: Any) -> str:
    """An http(s) URL Luma can fetch, or a RequestError that says a local file cannot be sent."""
    if isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and urlsplit(value).hostname:
        return value
    raise RequestError(
        f"{name} must be a public http(s) URL, not {value!r}: Luma reads media only from URLs it can "
        "reach, so a local file must be uploaded somewhere public first",
        hint="",
    )


@dataclass(frozen=True)
class ModifyRequest(GenerationRequest):
    """Video modify (``POST /generations/video/modify``): Luma redraws an existing video
    (``media``, a public URL) after ``prompt``, keeping its motion as ``mode`` says
    (``adhere_1..3`` stay close, ``flex``, ``reimagine`` drift further)."""

    kind: ClassVar[str] = "modify_video"
    asset: ClassVar[str] = "video"

    media: str = ""
    mode: str = "adhere_1"
    first_frame: str | None = None

    def validate(self) -> None:
        if self.model not in MODELS:
            raise RequestError(f"unknown model {self.model!r}; choose one of: {', '.join(MODELS)}")
        if self.mode not in MODIFY_MODES:
            raise RequestError(f"unknown mode {self.mode!r}; choose one of: {', '.join(MODIFY_MODES)}")
        public_url("the video to restyle", self.media)
        if self.first_frame is not None:
            public_url("first_frame", self.first_frame)
        if self.prompt and not 3 <= len(self.prompt) <= 5000:
            raise RequestError("the prompt must be from 3 to 5000 characters")

    def frame_size(self) -> tuple[int, int]:
        return (1920, 1080)  # the source's size is not known before: no size is refused here

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "generation_type": "modify_video",
            "media": {"url": self.media},
            "mode": self.mode,
            "model": self.model,
        }
        if self.prompt:
            body["prompt"] = self.prompt
        if self.first_frame:
            body["first_frame"] = {"url": self.first_frame}
        return body

    def matches(self, echoed: Mapping[str, Any] | None) -> bool:
        return _echoes(self.to_api(), echoed)

    @classmethod
    def from_json(cls, text: str) -> ModifyRequest:
        d = json.loads(text)
        d["concepts"] = tuple(d.get("concepts") or ())
        return cls(**d)


# Every kind of work the job layer can follow, by the name the store records.
REQUEST_KINDS: dict[str, type[GenerationRequest]] = {
    GenerationRequest.kind: GenerationRequest,
    ImageRequest.kind: ImageRequest,
    ModifyRequest.kind: ModifyRequest,
}


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
