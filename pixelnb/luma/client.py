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
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pixelnb.errors import AuthError, InternalError, LumaError
from pixelnb.luma.keys import resolve_api_key
from pixelnb.luma.mapping import _Transient, map_error
from pixelnb.luma.request import GenerationRequest
from pixelnb.retry import Backoff

__all__ = ["DEFAULT_BASE_URL", "LumaClient"]

log = logging.getLogger("pixelnb.luma")

DEFAULT_BASE_URL = "https://api.lumalabs.ai/dream-machine/v1"
T = TypeVar("T")


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
        image_creates_per_minute: int = 80,
        retry_wait: float = 1.0,
    ) -> None:
        self.__key = resolve_api_key(api_key)
        self.base_url = base_url or os.environ.get("LUMAAI_BASE_URL") or DEFAULT_BASE_URL
        self.timeout = timeout
        self.read_retries = read_retries
        self.creates_per_minute = creates_per_minute
        # Photon (images) has a budget of its own: 80 creates a minute (luma-api.md §2.6).
        self.image_creates_per_minute = image_creates_per_minute
        self.retry_wait = retry_wait
        self._sdk: Any = None
        self._sdk_loop: Any = None
        self._creates: dict[str, collections.deque[float]] = {}
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
            mapped = map_error(exc, self.redact)
            if mapped is exc:
                raise
            raise mapped from None

    async def _read(
        self,
        what: str,
        fn: Callable[[], Awaitable[T]],
        on_retry: Callable[[LumaError, float], None] | None = None,
    ) -> T:
        """Run a read, retrying transient failures with backoff and jitter; ``on_retry(error,
        wait)`` hears of each retry (a job shows "reconnecting")."""
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
                if on_retry is not None:
                    on_retry(t.error, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    # -- reads -------------------------------------------------------------------------
    async def get(
        self, luma_id: str, *, on_retry: Callable[[LumaError, float], None] | None = None
    ) -> dict[str, Any]:
        gen = await self._read("get", lambda: self.sdk().generations.get(luma_id), on_retry)
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
    async def _pace_creates(self, kind: str = "video") -> None:
        """Wait until one more create of this kind fits in its per-minute budget."""
        if self._create_lock is None:
            self._create_lock = asyncio.Lock()
        budget = self.image_creates_per_minute if kind == "image" else self.creates_per_minute
        sent = self._creates.setdefault(kind, collections.deque())
        async with self._create_lock:
            now = time.monotonic()
            while sent and now - sent[0] >= 60.0:
                sent.popleft()
            if len(sent) >= budget:
                wait = 60.0 - (now - sent[0])
                log.info("%s create budget of %d a minute used; waiting %.1f s", kind, budget, wait)
                await asyncio.sleep(wait)
                sent.popleft()
            sent.append(time.monotonic())

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

    def _creator(self, request: GenerationRequest) -> Callable[..., Awaitable[Any]]:
        """The SDK call that creates a generation of the request's kind."""
        sdk = self.sdk()
        creators: dict[str, Callable[..., Awaitable[Any]]] = {
            "video": sdk.generations.create,
            "image": sdk.generations.image.create,
            "modify_video": sdk.generations.video.modify,
        }
        try:
            return creators[request.kind]
        except KeyError:
            raise InternalError(f"no create call for {request.kind!r} generations") from None

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
            await self._pace_creates(request.kind)
            started = time.monotonic()
            try:
                gen = await self._call(lambda: self._creator(request)(**body))
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
