"""Luma's answers as pixelnb's typed errors: SDK exceptions, failure reasons, Retry-After."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pixelnb.errors import (
    AuthError,
    GenerationFailed,
    LumaError,
    LumaUnavailable,
    ModerationError,
    QuotaError,
    RequestError,
)
from pixelnb.retry import retry_after_seconds

__all__ = ["failure_error", "map_error"]


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


def map_error(exc: BaseException, redact: Callable[[str], str] = lambda t: t) -> BaseException:
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
