"""Dream Machine API access through the official ``lumaai`` SDK (``AsyncLumaAI``).

What this layer adds to the SDK:

- **At most one paid generation per submit.** The SDK retries POSTs without an
  idempotency key, so creates go out with ``max_retries=0``. After an ambiguous failure
  (a timeout, a dropped connection or a 5xx once the request was sent) the client lists
  recent generations and looks for one whose echoed request matches before it creates
  again. A connection that was refused before anything was sent is retried as is.
- **Reads retried** on 5xx, 429 and timeouts with backoff and jitter, honouring
  ``Retry-After``.
- **Client-side limits**: creates are spaced to at most ``creates_per_minute`` per key, so
  a burst of submits queues instead of failing.
- **Typed errors** (:mod:`pixelnb.errors`) that say what to do, and never the key: it is
  read from ``api_key=``, ``LUMAAI_API_KEY`` or a ``.env`` file, kept in one private
  attribute, and left out of every repr, log line and message.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pixelnb.errors import (
    AuthError,
    GenerationFailed,
    LumaError,
    LumaUnavailable,
    ModerationError,
    QuotaError,
    RequestError,
)
from pixelnb.retry import Backoff, retry_after_seconds

__all__ = ["GenerationRequest", "LumaClient", "PollPolicy", "failure_error", "resolve_api_key"]

log = logging.getLogger("pixelnb.luma")

MODELS = ("ray-2", "ray-flash-2")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
DURATIONS = ("5s", "9s")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DEFAULT_BASE_URL = "https://api.lumalabs.ai/dream-machine/v1"

T = TypeVar("T")


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.removeprefix("export ").split("=", 1)
        values[k.strip()] = v.strip().strip("'\"")
    return values


def resolve_api_key(api_key: str | None = None, dotenv: Path | None = None) -> str | None:
    """The key from the argument, else ``LUMAAI_API_KEY``, else a ``.env`` file (cwd)."""
    if api_key:
        return api_key
    if os.environ.get("LUMAAI_API_KEY"):
        return os.environ["LUMAAI_API_KEY"]
    return _read_dotenv(dotenv or Path.cwd() / ".env").get("LUMAAI_API_KEY") or None


@dataclass(frozen=True)
class PollPolicy:
    """How to follow a generation: backoff from ``initial`` to ``maximum`` seconds with
    ``jitter`` (a fraction), and give up after ``deadline`` seconds."""

    initial: float = 2.0
    maximum: float = 10.0
    factor: float = 1.5
    jitter: float = 0.2
    deadline: float = 20 * 60.0

    def delays(self, rng: random.Random | None = None) -> Backoff:
        return Backoff(self.initial, self.maximum, self.factor, self.jitter, rng)


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
    """One video generation as Luma's create call takes it."""

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


_MODERATION = ("moderat", "blacklist", "not allowed", "contains ip", "safety", "nsfw")


def failure_error(reason: str | None) -> LumaError:
    """The typed error for a generation that Luma reports as failed."""
    text = (reason or "no reason given").strip()
    low = text.lower()
    if any(m in low for m in _MODERATION):
        return ModerationError(f"Luma refused the generation: {text}")
    if "user input frames" in low:
        return RequestError(
            f"Luma could not fetch a keyframe image: {text}",
            hint="keyframe images must be public https URLs that Luma can download",
        )
    if "credit" in low or "balance" in low or "quota" in low:
        return QuotaError(f"Luma refused the generation: {text}")
    return GenerationFailed(f"Luma failed the generation: {text}")


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and "detail" in body:
        d = body["detail"]
        text = d if isinstance(d, str) else json.dumps(d)
    else:
        text = getattr(exc, "message", None) or exc.__class__.__name__
    text = str(text)
    for prefix in ("400: ", "401: ", "403: ", "404: ", "422: ", "429: "):
        text = text.removeprefix(prefix)
    return text


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    return None if response is None else retry_after_seconds(response.headers.get("retry-after"))


class _Transient(Exception):
    """A failure worth retrying: (error to raise if retries run out, wait hint)."""

    def __init__(self, error: LumaError, wait: float | None, *, sent: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait
        self.sent = sent  # whether the request may have reached the server


def _map(exc: BaseException, redact: Callable[[str], str] = lambda t: t) -> BaseException:
    """SDK exception -> pixelnb error (or _Transient for retryable ones). Whatever the
    server said passes through ``redact`` first: a server may echo the key back."""
    import httpx
    import lumaai

    def said() -> str:
        return redact(_detail(exc))

    code = getattr(exc, "status_code", None)
    if isinstance(exc, (lumaai.AuthenticationError, lumaai.PermissionDeniedError)):
        return AuthError(f"Luma refused the API key (HTTP {code}): {said()}", status_code=code)
    if isinstance(exc, (lumaai.BadRequestError, lumaai.UnprocessableEntityError)):
        return RequestError(f"Luma refused the request: {said()}", status_code=code)
    if isinstance(exc, lumaai.NotFoundError):
        return GenerationFailed(
            f"Luma has no such generation: {said()}",
            hint="it was deleted or belongs to another key; submit again with fresh=True",
            status_code=code,
        )
    if isinstance(exc, lumaai.RateLimitError):
        wait = _retry_after(exc)
        return _Transient(
            QuotaError(f"Luma's rate limit: {said()}", status_code=code, retry_after=wait), wait, sent=False
        )
    if isinstance(exc, lumaai.APIStatusError) and exc.status_code == 402:
        return QuotaError(f"Luma refused the request for lack of credits: {said()}", status_code=code)
    if isinstance(exc, lumaai.APIStatusError) and exc.status_code >= 500:
        wait = _retry_after(exc)
        return _Transient(
            LumaUnavailable(f"Luma answered HTTP {code}: {said()}", status_code=code, retry_after=wait),
            wait,
            sent=True,
        )
    if isinstance(exc, lumaai.APITimeoutError):
        return _Transient(LumaUnavailable("Luma did not answer in time"), None, sent=True)
    if isinstance(exc, lumaai.APIConnectionError):
        cause = exc.__cause__
        refused = isinstance(cause, httpx.ConnectError)
        what = "could not connect to Luma" if refused else "the connection to Luma dropped"
        return _Transient(LumaUnavailable(what), None, sent=not refused)
    if isinstance(exc, lumaai.APIStatusError):
        return LumaError(f"Luma answered HTTP {code}: {said()}", status_code=code)
    return exc


class LumaClient:
    """Async access to the Dream Machine API; one per key and base URL.

    ``base_url`` defaults to ``LUMAAI_BASE_URL`` or Luma's own; pointing it at
    :class:`pixelnb.testing.FakeLuma` runs everything offline.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        read_retries: int = 6,
        creates_per_minute: int = 20,
        retry_wait: float = 1.0,
    ) -> None:
        self.__key = resolve_api_key(api_key)
        self.base_url = base_url or os.environ.get("LUMAAI_BASE_URL") or DEFAULT_BASE_URL
        self.timeout = timeout
        self.read_retries = read_retries
        self.creates_per_minute = creates_per_minute
        self.retry_wait = retry_wait
        self._sdk: Any = None
        self._sdk_loop: Any = None
        self._creates: collections.deque[float] = collections.deque()
        self._closing: set[asyncio.Task[None]] = set()
        self._create_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"LumaClient(base_url={self.base_url!r}, key={'set' if self.__key else 'missing'})"

    @property
    def has_key(self) -> bool:
        return bool(self.__key)

    @property
    def is_loopback(self) -> bool:
        """Whether the API is served from this machine (a fake, in tests and demos)."""
        host = urlsplit(self.base_url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")

    def set_key(self, api_key: str) -> None:
        """Use this key from now on (a notebook's password field gives it)."""
        self.__key = api_key
        self._drop_sdk()

    def _drop_sdk(self) -> None:
        """Forget the SDK client, closing it on the loop it belongs to."""
        old, loop = self._sdk, self._sdk_loop
        self._sdk = self._sdk_loop = None
        if old is None or loop is None or loop.is_closed():
            return  # a closed loop's connections went with it
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is loop:
            self._closing.add(running.create_task(old.close()))
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(old.close(), loop)
        else:
            loop.run_until_complete(old.close())

    def require_key(self) -> None:
        if not self.__key:
            raise AuthError("no Luma API key was found")

    def sdk(self) -> Any:
        """The AsyncLumaAI client of the running loop (httpx clients belong to one loop)."""
        self.require_key()
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            import httpx
            from lumaai import AsyncLumaAI

            self._drop_sdk()
            self._sdk = AsyncLumaAI(
                auth_token=self.__key,
                base_url=self.base_url,
                max_retries=0,  # pixelnb decides what is safe to retry
                timeout=httpx.Timeout(self.timeout, connect=5.0),
            )
            self._sdk_loop = loop
        return self._sdk

    def _backoff(self) -> Backoff:
        """Waits between retries: from ``retry_wait`` doubling to 10 s, 20 % jitter."""
        return Backoff(initial=self.retry_wait, maximum=10.0, factor=2.0, jitter=0.2)

    def redact(self, text: str) -> str:
        """``text`` with the API key (and any bearer token of it) masked: for everything a
        server sends back before it is shown, logged or stored."""
        key = self.__key
        if key and key in text:
            text = text.replace(key, "[redacted]")
        return text

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except Exception as exc:  # the SDK's exceptions, mapped
            mapped = _map(exc, self.redact)
            if mapped is exc:
                raise
            raise mapped from None

    async def _read(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a read, retrying transient failures with backoff and jitter."""
        backoff = self._backoff()
        for attempt in range(self.read_retries + 1):
            try:
                return await self._call(fn)
            except _Transient as t:
                if attempt == self.read_retries:
                    raise t.error from None
                wait = backoff.next()
                wait = t.wait if t.wait is not None else wait
                log.info("%s: %s; retrying in %.1f s", what, t.error.message, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    # -- reads -------------------------------------------------------------------------
    async def get(self, luma_id: str) -> dict[str, Any]:
        gen = await self._read("get", lambda: self.sdk().generations.get(luma_id))
        return _as_dict(gen)

    async def list_generations(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        res = await self._read("list", lambda: self.sdk().generations.list(limit=limit, offset=offset))
        return [_as_dict(g) for g in res.generations]

    async def delete(self, luma_id: str) -> None:
        await self._read("delete", lambda: self.sdk().generations.delete(luma_id))

    async def credits(self) -> float:
        """The balance in US cents, as Luma reports it."""
        res = await self._read("credits", lambda: self.sdk().credits.get())
        return float(res.credit_balance)

    async def concepts(self) -> list[str]:
        return list(await self._read("concepts", lambda: self.sdk().generations.concepts.list()))

    async def ping(self) -> None:
        await self._read("ping", lambda: self.sdk().ping.check())

    # -- the one paid call ---------------------------------------------------------------
    async def _pace_creates(self) -> None:
        """Wait until one more create fits in the per-minute budget."""
        if self._create_lock is None:
            self._create_lock = asyncio.Lock()
        async with self._create_lock:
            now = time.monotonic()
            while self._creates and now - self._creates[0] >= 60.0:
                self._creates.popleft()
            if len(self._creates) >= self.creates_per_minute:
                wait = 60.0 - (now - self._creates[0])
                log.info("create budget of %d a minute used; waiting %.1f s", self.creates_per_minute, wait)
                await asyncio.sleep(wait)
                self._creates.popleft()
            self._creates.append(time.monotonic())

    async def find(
        self, request: GenerationRequest, since: float, exclude: set[str] | frozenset[str] = frozenset()
    ) -> dict[str, Any] | None:
        """A generation created at or after ``since`` (epoch seconds, with slack for clock
        skew) whose echoed request matches, and whose id is not in ``exclude``."""
        for gen in await self.list_generations(limit=100):
            if gen.get("id") in exclude or not request.matches(gen.get("request")):
                continue
            created = _epoch(gen.get("created_at"))
            if created is None or created >= since - 120.0:
                return gen
        return None

    async def create(
        self,
        request: GenerationRequest,
        *,
        exclude: set[str] | frozenset[str] = frozenset(),
        check_first: bool = False,
        attempts: int = 6,
    ) -> dict[str, Any]:
        """Create a generation, paying at most once: see the module docstring.

        ``check_first`` reconciles before the first attempt too (a job that may already
        have sent its create before a crash). ``exclude`` lists generation ids that other
        jobs own, which reconciliation must not take.
        """
        since = time.time()
        backoff = self._backoff()
        body = request.to_api()
        if check_first:
            found = await self.find(request, since - 86400, exclude)
            if found is not None:
                return found
        for attempt in range(attempts):
            await self._pace_creates()
            started = time.monotonic()
            try:
                gen = await self._call(lambda: self.sdk().generations.create(**body))
                return _as_dict(gen)
            except _Transient as t:
                if attempt == attempts - 1 and not t.sent:
                    raise t.error from None
                wait = backoff.next()
                wait = t.wait if t.wait is not None else wait
                log.info(
                    "create: %s; %s",
                    t.error.message,
                    "checking whether it was made" if t.sent else f"retrying in {wait:.1f} s",
                )
                await asyncio.sleep(wait)
                if t.sent:
                    found = await self._reconcile(request, since, exclude, started)
                    if found is not None:
                        return found
                    if attempt == attempts - 1:
                        raise t.error from None
        raise AssertionError("unreachable")

    async def _reconcile(
        self, request: GenerationRequest, since: float, exclude: set[str] | frozenset[str], started: float
    ) -> dict[str, Any] | None:
        """Look for the generation an unanswered create may have made.

        A server can still be working on a request after the client gave up on it, so
        before answering "not made" this waits until twice the request timeout has passed
        since the create was sent (plus a second), and looks again.
        """
        found = await self.find(request, since, exclude)
        if found is None:
            settle = 2 * self.timeout + 1.0 - (time.monotonic() - started)
            if settle > 0:
                await asyncio.sleep(settle)
            found = await self.find(request, since, exclude)
        if found is not None:
            log.info("found the generation %s that an unanswered create made", found.get("id"))
        return found

    async def aclose(self) -> None:
        """Close the SDK's connections (``async with LumaClient(...) as client`` does it)."""
        sdk, loop = self._sdk, self._sdk_loop
        self._sdk = self._sdk_loop = None
        if sdk is not None:
            if loop is asyncio.get_running_loop() or loop is None:
                await sdk.close()
            elif not loop.is_closed() and loop.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(sdk.close(), loop))
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
            self._closing.clear()

    async def __aenter__(self) -> LumaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    d: dict[str, Any] = obj.model_dump(mode="json")
    return d


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
