"""Fetch a finished video: streamed, size-capped, type-checked, resumable, hashed, atomic.

The bytes go to a part file named for the download (a job's id), never shared with
another download. A dropped connection, or a process killed mid-way, resumes with an HTTP
``Range`` request from the bytes already on disk (``If-Range`` with the server's ETag, so a
changed file starts over). Once whole, the file is hashed from disk and only then published
as ``<sha256>.mp4``: the cache is content-addressed and a name always matches its content.
Every redirect hop is checked before it is followed, and the whole download has a deadline.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pixelnb.errors import DiskFull, DownloadError
from pixelnb.retry import Backoff, retry_after_seconds
from pixelnb.stamp import file_sha256  # one implementation, re-exported here

__all__ = ["MAX_BYTES", "Downloaded", "check_url", "download", "file_sha256"]

MAX_BYTES = 512 * 1024 * 1024  # a 9 s 4k clip is far smaller
MAX_REDIRECTS = 5
DEADLINE = 15 * 60.0  # seconds for the whole download, however the server trickles
_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


class _Retry(Exception):
    """A transient answer (429, 5xx): wait and try again."""

    def __init__(self, what: str, retry_after: str | None) -> None:
        super().__init__(what)
        self.wait = retry_after_seconds(retry_after)


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


def _publish(part: Path, folder: Path, suffix: str = ".mp4") -> Downloaded:
    """Hash the part file and move it to ``<sha256><suffix>`` (an existing file of that
    name is kept only if its content matches it)."""
    sha = file_sha256(part)
    size = part.stat().st_size
    final = folder / f"{sha}{suffix}"
    if final.exists() and final.stat().st_size == size and file_sha256(final) == sha:
        part.unlink(missing_ok=True)
    else:
        os.replace(part, final)
    return Downloaded(final, sha, size)


async def download(
    url: str,
    folder: Path,
    *,
    name: str | None = None,
    max_bytes: int = MAX_BYTES,
    allow_http_loopback: bool = False,
    timeout: float = 60.0,
    deadline: float = DEADLINE,
    attempts: int = 5,
    progress: Callable[[int, int | None], None] | None = None,
    image: bool = False,
) -> Downloaded:
    """Download ``url`` into ``folder`` as ``<sha256>.mp4`` and return where it went.

    ``name`` names the part file (a job's id, so the download survives a restart of its
    process and resumes from where it stopped); by default it is unique to this call.
    ``timeout`` bounds each read, ``deadline`` the whole download. ``image=True`` takes a
    PNG, JPEG or WebP picture instead (a Photon generation), kept as ``<sha256>.png`` etc.
    """
    import httpx

    check_url(url, allow_http_loopback)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if DiskFull.caused(exc):
            raise DiskFull(folder, "the video") from None
        raise
    part = folder / f".{name or os.urandom(8).hex()}.part"
    etag_file = part.with_name(part.name + ".etag")
    etag = etag_file.read_text().strip() if etag_file.exists() and part.exists() else None
    written = part.stat().st_size if part.exists() else 0
    total: int | None = None
    backoff = Backoff(initial=0.2, maximum=10.0, jitter=0.0)
    started = time.monotonic()
    keep = False  # whether the part file is worth resuming from
    suffix = ".mp4"

    def cleanup() -> None:
        part.unlink(missing_ok=True)
        etag_file.unlink(missing_ok=True)

    async def get(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
        """GET with every redirect hop checked before it is followed."""
        target = url
        for _hop in range(MAX_REDIRECTS + 1):
            req = http.build_request("GET", target, headers=headers)
            resp = await http.send(req, stream=True)
            if resp.status_code in (301, 302, 303, 307, 308) and "location" in resp.headers:
                await resp.aclose()
                target = urljoin(target, resp.headers["location"])
                check_url(target, allow_http_loopback)
                continue
            return resp
        raise DownloadError(f"the video URL redirected more than {MAX_REDIRECTS} times (a redirect loop?)")

    async def run() -> None:
        nonlocal written, total, etag, keep, suffix
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0)) as http:
            for attempt in range(attempts):
                headers = {"Range": f"bytes={written}-"} if written else {}
                if written and etag:
                    headers["If-Range"] = etag
                try:
                    resp = await get(http, headers)
                    try:
                        if resp.status_code == 416 and written:
                            written = 0  # the part is not a prefix of this file: start over
                            cleanup()
                            raise _Retry("HTTP 416", "0")
                        if resp.status_code == 200 and written:
                            written = 0  # the server ignored the range (or the file changed)
                            cleanup()
                        elif resp.status_code == 429 or resp.status_code >= 500:
                            raise _Retry(f"HTTP {resp.status_code}", resp.headers.get("retry-after"))
                        elif resp.status_code not in (200, 206):
                            raise DownloadError(
                                f"the video URL answered HTTP {resp.status_code}",
                                status_code=resp.status_code,
                            )
                        ctype = resp.headers.get("content-type", "").lower()
                        if image:
                            found = IMAGE_TYPES.get(ctype.split(";")[0].strip())
                            if found is None:
                                raise DownloadError(
                                    f"the image URL sent {ctype or 'no content type'}, not an image"
                                )
                            suffix = found
                        elif not ctype.startswith(_TYPES):
                            raise DownloadError(
                                f"the video URL sent {ctype or 'no content type'}, not a video"
                            )
                        length = resp.headers.get("content-length")
                        if length is not None and length.isdigit():
                            total = written + int(length)
                            if total > max_bytes:
                                raise DownloadError(
                                    f"the video is {total} bytes, over the {max_bytes}-byte cap"
                                )
                        if resp.headers.get("etag"):
                            etag = resp.headers["etag"]
                            etag_file.write_text(etag)
                        with part.open("ab") as f:
                            async for chunk in resp.aiter_bytes():
                                if written + len(chunk) > max_bytes:
                                    raise DownloadError(f"the video passed the {max_bytes}-byte cap")
                                f.write(chunk)
                                written += len(chunk)
                                if progress is not None:
                                    progress(written, total)
                    finally:
                        await resp.aclose()
                    if total is not None and written < total:
                        raise httpx.RemoteProtocolError("the body ended early")
                    return
                except (httpx.TransportError, _Retry) as exc:
                    if attempt == attempts - 1:
                        keep = True
                        what = str(exc) if isinstance(exc, _Retry) else exc.__class__.__name__
                        raise DownloadError(
                            f"the download kept failing after {written} bytes ({what}); "
                            "resuming continues from there"
                        ) from None
                    wait = exc.wait if isinstance(exc, _Retry) and exc.wait is not None else backoff.next()
                    remaining = deadline - (time.monotonic() - started)
                    await asyncio.sleep(max(0.0, min(wait, 10.0, remaining)))

    try:
        await asyncio.wait_for(run(), deadline)
    except asyncio.TimeoutError:
        keep = True
        raise DownloadError(
            f"the download did not finish within {deadline:g} s ({written} bytes so far); "
            "resuming continues from there"
        ) from None
    except OSError as exc:
        if DiskFull.caused(exc):
            cleanup()
            raise DiskFull(folder, "the video") from None
        raise
    except DownloadError:
        if not keep:
            cleanup()
        raise
    if written == 0:
        cleanup()
        raise DownloadError("the video URL sent an empty file")
    try:
        got = _publish(part, folder, suffix)
    except OSError as exc:
        if DiskFull.caused(exc):
            cleanup()
            raise DiskFull(folder, "the video") from None
        raise
    etag_file.unlink(missing_ok=True)
    return got
