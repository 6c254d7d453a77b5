"""Fetch a finished video: streamed, size-capped, type-checked, resumable, hashed, atomic.

The file is written to a ``.part`` name while it arrives and renamed to
``<sha256>.mp4`` once whole, so the cache is content-addressed and a crash never leaves a
half file under a final name. A dropped connection resumes with an HTTP ``Range``
request from the bytes already written.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pixelnb.errors import DownloadError

__all__ = ["MAX_BYTES", "Downloaded", "download"]

MAX_BYTES = 512 * 1024 * 1024  # a 9 s 4k clip is far smaller
_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")


class _Retry(Exception):
    """A transient answer (429, 5xx): wait and try again."""

    def __init__(self, what: str, retry_after: str | None) -> None:
        super().__init__(what)
        try:
            self.wait: float | None = float(retry_after) if retry_after else None
        except ValueError:
            self.wait = None


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    size: int


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def check_url(url: str, allow_http_loopback: bool = False) -> None:
    """Refuse anything but https (or http to this machine, when allowed)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(parts.hostname or ""):
        return
    raise DownloadError(f"refusing to download from {parts.scheme or 'a relative'} URL {url!r}; https only")


async def download(
    url: str,
    folder: Path,
    *,
    max_bytes: int = MAX_BYTES,
    allow_http_loopback: bool = False,
    timeout: float = 60.0,
    attempts: int = 5,
    progress: Callable[[int, int | None], None] | None = None,
) -> Downloaded:
    """Download ``url`` into ``folder`` as ``<sha256>.mp4`` and return where it went."""
    import httpx

    check_url(url, allow_http_loopback)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{hashlib.sha256(url.encode()).hexdigest()[:16]}.part"
    part.unlink(missing_ok=True)
    digest = hashlib.sha256()
    written = 0
    total: int | None = None
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=True) as http:
        for attempt in range(attempts):
            headers = {"Range": f"bytes={written}-"} if written else {}
            try:
                async with http.stream("GET", url, headers=headers) as resp:
                    check_url(str(resp.url), allow_http_loopback)  # redirects too
                    if resp.status_code == 200 and written:
                        # The server ignored the range: start over.
                        written, digest = 0, hashlib.sha256()
                        part.unlink(missing_ok=True)
                    elif resp.status_code == 429 or resp.status_code >= 500:
                        raise _Retry(f"HTTP {resp.status_code}", resp.headers.get("retry-after"))
                    elif resp.status_code not in (200, 206):
                        raise DownloadError(f"the video URL answered HTTP {resp.status_code}")
                    ctype = resp.headers.get("content-type", "").lower()
                    if not ctype.startswith(_TYPES):
                        raise DownloadError(f"the video URL sent {ctype or 'no content type'}, not a video")
                    length = resp.headers.get("content-length")
                    if length is not None:
                        total = written + int(length)
                        if total > max_bytes:
                            raise DownloadError(f"the video is {total} bytes, over the {max_bytes}-byte cap")
                    with part.open("ab") as f:
                        async for chunk in resp.aiter_bytes(1 << 16):
                            written += len(chunk)
                            if written > max_bytes:
                                raise DownloadError(f"the video passed the {max_bytes}-byte cap")
                            f.write(chunk)
                            digest.update(chunk)
                            if progress is not None:
                                progress(written, total)
                if total is not None and written < total:
                    raise httpx.RemoteProtocolError("the body ended early")
                break
            except (httpx.TransportError, _Retry) as exc:
                if attempt == attempts - 1:
                    part.unlink(missing_ok=True)
                    what = str(exc) if isinstance(exc, _Retry) else exc.__class__.__name__
                    raise DownloadError(f"the download kept failing after {written} bytes ({what})") from None
                wait = exc.wait if isinstance(exc, _Retry) and exc.wait is not None else 0.2 * 2**attempt
                await asyncio.sleep(min(wait, 10.0))
            except DownloadError:
                part.unlink(missing_ok=True)
                raise
    if written == 0:
        part.unlink(missing_ok=True)
        raise DownloadError("the video URL sent an empty file")
    sha = digest.hexdigest()
    final = folder / f"{sha}.mp4"
    os.replace(part, final)
    return Downloaded(final, sha, written)
