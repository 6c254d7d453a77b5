"""Replay bundles: the generations a notebook used, packed so it re-runs with no key and no payment.

A bundle is a zip with ``manifest.json`` (one entry per request: what was asked, Luma's
generation id and echo, the pixel options, and the sha256 of the file Luma made) and the
files themselves under ``objects/<sha256>``, content-addressed. :func:`use_bundle` (or
``PIXELNB_BUNDLE``) makes every request found in it replay from it; a request that is not
in it raises :class:`~pixelnb.OfflineError` instead of paying (``strict=False`` lets it
through). ``PIXELNB_OFFLINE=1`` refuses every request that would reach Luma.

A bundle is checked whole when it is opened (readable zip, a format this pixelnb reads,
every file matching its hash), so a bad one is refused before anything of it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelnb.errors import BundleError, OfflineError
from pixelnb.stamp import file_sha256
from pixelnb.store import JobRecord

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "active_bundle",
    "is_offline",
    "open_bundle",
    "use_bundle",
    "write_bundle",
]

BUNDLE_FORMAT = 1  # what this pixelnb writes and the newest it reads
KIND = "pixelnb-bundle"
MANIFEST = "manifest.json"
_DATE = (1980, 1, 1, 0, 0, 0)  # every entry's date: the same bundle is the same bytes


def is_offline() -> bool:
    """Whether ``PIXELNB_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get("PIXELNB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Bundle:
    """An opened, checked bundle: its entries by (kind, request hash)."""

    path: Path
    manifest: dict[str, Any]
    strict: bool = True
    _entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, {len(self._entries)} requests, strict={self.strict})"

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, kind: str, request_hash: str) -> dict[str, Any] | None:
        """The entry of a request, or None."""
        return self._entries.get((kind, request_hash))

    def extract(self, entry: dict[str, Any], folder: Path) -> Path:
        """The entry's file in ``folder`` as ``<sha256>.<ext>`` (written once, checked)."""
        sha = entry["sha256"]
        final = folder / f"{sha}{entry.get('suffix', '.mp4')}"
        if final.is_file() and file_sha256(final) == sha:
            return final
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{sha}.{os.getpid()}.{threading.get_ident()}.part"
        h = hashlib.sha256()
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(entry["object"]) as src, open(part, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
            if h.hexdigest() != sha:
                raise BundleError(self.path, f"{entry['object']} changed since the bundle was opened")
            os.replace(part, final)
        except (OSError, zipfile.BadZipFile) as exc:
            raise BundleError(self.path, f"cannot be read ({exc})") from None
        finally:
            part.unlink(missing_ok=True)
        return final

    def miss(self, kind: str, request_hash: str, prompt: str | None) -> OfflineError:
        """The error for a request this bundle does not hold."""
        what = f"the request {prompt!r}" if prompt else "this request (no prompt)"
        return OfflineError(
            f"{what} is not in the bundle {self.path.name} ({len(self)} requests); a changed prompt "
            "or option is a new generation: run without the bundle (with a key) to pay for it, "
            "or use_bundle(..., strict=False)",
            prompt=prompt,
            request_hash=request_hash,
        )


def write_bundle(path: str | os.PathLike[str], records: Iterable[JobRecord]) -> Path:
    """Pack the finished ``records`` (one per request) and their files into a bundle at
    ``path``, written whole or not at all."""
    from pixelnb._version import __version__
    from pixelnb.stamp import created_time

    out = Path(path)
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    files: dict[str, Path] = {}
    for rec in records:
        if (rec.kind, rec.request_hash) in entries:
            continue
        video = Path(rec.video_path) if rec.video_path else None
        if rec.state != "completed" or video is None or not video.is_file() or not rec.video_sha256:
            raise BundleError(
                out,
                f"job {rec.id[:8]} ({rec.prompt!r}) has no finished video in the cache; run it to the "
                "end (pixelnb jobs resume) and bundle again",
            )
        if file_sha256(video) != rec.video_sha256:
            raise BundleError(out, f"the cached video of job {rec.id[:8]} changed since it was downloaded")
        obj = f"objects/{rec.video_sha256}"
        files[obj] = video
        entries[(rec.kind, rec.request_hash)] = {
            "kind": rec.kind,
            "request": json.loads(rec.request),
            "request_hash": rec.request_hash,
            "pixel": json.loads(rec.pixel),
            "luma_id": rec.luma_id,
            "echo": json.loads(rec.echo) if rec.echo else None,
            "url": rec.video_url,
            "object": obj,
            "sha256": rec.video_sha256,
            "suffix": video.suffix or ".mp4",
            "size": video.stat().st_size,
        }
    if not entries:
        raise BundleError(out, "there is nothing to bundle: no finished generation was given")
    manifest = {
        "kind": KIND,
        "format": BUNDLE_FORMAT,
        "pixelnb": __version__,
        "created": created_time(),
        "requests": sorted(entries.values(), key=lambda e: (e["kind"], e["request_hash"])),
    }
    part = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as zf:  # videos are compressed already
            info = zipfile.ZipInfo(MANIFEST, date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, json.dumps(manifest, indent=1, sort_keys=True))
            for obj in sorted(files):
                info = zipfile.ZipInfo(obj, date_time=_DATE)
                with zf.open(info, "w") as dst, open(files[obj], "rb") as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
        os.replace(part, out)
    except OSError as exc:
        from pixelnb.errors import DiskFull

        if DiskFull.caused(exc):
            raise DiskFull(out, "the bundle") from None
        raise
    finally:
        part.unlink(missing_ok=True)
    return out


def open_bundle(path: str | os.PathLike[str], *, strict: bool = True) -> Bundle:
    """Open and check a bundle whole: a readable zip, a manifest of a format this pixelnb
    reads, and every file matching its sha256. Raises :class:`~pixelnb.BundleError`."""
    from pixelnb._version import __version__

    p = Path(path)
    if not p.is_file():
        raise BundleError(p, "no such bundle file")
    try:
        with zipfile.ZipFile(p) as zf:
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except KeyError:
                raise BundleError(p, f"is not a pixelnb bundle (it has no {MANIFEST})") from None
            except ValueError:
                raise BundleError(p, f"its {MANIFEST} is not JSON; the bundle is damaged") from None
            if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
                raise BundleError(p, "is not a pixelnb bundle")
            fmt = manifest.get("format")
            if not isinstance(fmt, int) or fmt > BUNDLE_FORMAT:
                raise BundleError(
                    p,
                    f"was made by pixelnb {manifest.get('pixelnb', '?')} in bundle format {fmt}; this "
                    f"pixelnb ({__version__}) reads format {BUNDLE_FORMAT} and older: upgrade pixelnb",
                )
            entries: dict[tuple[str, str], dict[str, Any]] = {}
            names = set(zf.namelist())
            for entry in manifest.get("requests") or []:
                obj = entry.get("object")
                if obj not in names:
                    raise BundleError(
                        p, f"{obj} is listed in its manifest but missing; the bundle is damaged"
                    )
                h = hashlib.sha256()
                with zf.open(obj) as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        h.update(block)
                if h.hexdigest() != entry.get("sha256"):
                    raise BundleError(
                        p,
                        f"{obj} does not match its sha256 (the video of "
                        f"{entry.get('request', {}).get('prompt')!r}); the bundle was altered or damaged",
                    )
                entries[(entry["kind"], entry["request_hash"])] = entry
    except zipfile.BadZipFile as exc:
        raise BundleError(p, f"is not a readable zip ({exc}); the bundle is damaged") from None
    except (OSError, zipfile.LargeZipFile) as exc:
        raise BundleError(p, f"cannot be read ({exc})") from None
    return Bundle(p, manifest, strict, entries)


_lock = threading.Lock()
_active: Bundle | None = None
_from_env: tuple[str, float, Bundle] | None = None  # PIXELNB_BUNDLE, its mtime, opened


def use_bundle(path: str | os.PathLike[str] | None, *, strict: bool = True) -> Bundle | None:
    """Replay every request found in the bundle at ``path`` from it, in this process; a
    request not in it raises :class:`~pixelnb.OfflineError` unless ``strict=False``.
    ``None`` stops using it. The bundle is checked whole first; a bad one changes nothing."""
    global _active
    opened = None if path is None else open_bundle(path, strict=strict)
    with _lock:
        _active = opened
    return opened


def active_bundle() -> Bundle | None:
    """The bundle :func:`use_bundle` set, else the one ``PIXELNB_BUNDLE`` names, else None."""
    global _from_env
    with _lock:
        if _active is not None:
            return _active
        env = os.environ.get("PIXELNB_BUNDLE", "").strip()
        if not env:
            return None
        try:
            mtime = Path(env).stat().st_mtime
        except OSError:
            raise BundleError(env, "PIXELNB_BUNDLE names no bundle file") from None
        if _from_env is None or _from_env[:2] != (env, mtime):
            _from_env = (env, mtime, open_bundle(env))
        return _from_env[2]
