"""The provenance stamp of every export: the record of where a file came from, and its reader.

A record says which pixelnb made the file, from what (a video's name and sha256, or a Luma
generation: its id, model, prompt, the request sent and the request Luma echoed), with
which pixel options, edits and palette, and when. Each format keeps it where that format
keeps text: a GIF comment extension, a PNG/APNG ``iTXt`` chunk, WebP's XMP packet, the
sheet JSON's ``meta``, the zip comment, an HTML ``<meta>`` tag, a comment line of a Godot
``.tres``.
:func:`provenance` reads it back from any of them.

The creation time is the only field that differs between two runs; with
``SOURCE_DATE_EPOCH`` (or ``PIXELNB_SOURCE_DATE_EPOCH``) set it is that time, as the
reproducible-builds convention asks, so the files are byte-identical.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import html
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelnb.errors import OptionError

if TYPE_CHECKING:
    from pixelnb.sprite import Sprite
    from pixelnb.spriteset import SpriteSet

__all__ = [
    "FORMAT",
    "KEY",
    "XMP_NS",
    "created_time",
    "dumps",
    "fixed_time",
    "parse_xmp",
    "provenance",
    "record",
    "set_record",
    "source_record",
    "xmp_packet",
]

FORMAT = 1  # the record's layout; a newer one may add fields, never change them
KEY = "pixelnb:provenance"  # the PNG iTXt keyword, the HTML meta name
XMP_NS = "https://github.com/pixelnb/pixelnb/ns/provenance/1.0/"
EPOCH_VARS = ("PIXELNB_SOURCE_DATE_EPOCH", "SOURCE_DATE_EPOCH")
# The sprite.info keys that record an edit made after pixelate, copied into the record.
_EDITS = ("crop", "pingpong", "loop")


# A batch fixes one time for all its files, wherever they are written (see fixed_time).
_FIXED: contextvars.ContextVar[str | None] = contextvars.ContextVar("pixelnb_fixed_time", default=None)


@contextlib.contextmanager
def fixed_time(created: str) -> Iterator[None]:
    """Within the block, records say ``created`` (a batch's one time, chosen where it was
    started, so files written on other machines match a single-process run)."""
    token = _FIXED.set(created)
    try:
        yield
    finally:
        _FIXED.reset(token)


def created_time() -> str:
    """Now in UTC (ISO 8601), or the time ``PIXELNB_SOURCE_DATE_EPOCH``/``SOURCE_DATE_EPOCH`` sets."""
    fixed = _FIXED.get()
    if fixed is not None:
        return fixed
    for var in EPOCH_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            try:
                stamp = int(value)
            except ValueError:
                raise OptionError(f"{var} must be whole seconds since 1970, got {value!r}") from None
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's content, read in blocks (the cache, bundles and records use it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_record(path: str | os.PathLike[str] | None, sha256: str | None = None) -> dict[str, Any]:
    """The source part of a record: the file's name (not its folder, which is this
    machine's) and its sha256."""
    if path is None:
        return {}
    out: dict[str, Any] = {"name": Path(path).name}
    if sha256 is None and Path(path).is_file():
        sha256 = file_sha256(path)
    if sha256:
        out["sha256"] = sha256
    return out


def record(sprite: Sprite, scale: int = 1) -> dict[str, Any]:
    """The provenance record of ``sprite`` written at ``scale``: what the pipeline noted in
    ``sprite.info`` (source, generation, options) plus its palette, shape, edits and the
    creation time."""
    from pixelnb._version import __version__

    noted = sprite.info.get("provenance") or {}
    out: dict[str, Any] = {"format": FORMAT, "pixelnb": __version__}
    out["source"] = dict(noted.get("source") or {})
    if not out["source"] and sprite.source:
        out["source"] = {"name": Path(sprite.source).name}
    if noted.get("generation"):
        out["generation"] = noted["generation"]
    out["options"] = noted.get("options")
    edits = {k: sprite.info[k] for k in _EDITS if sprite.info.get(k) is not None}
    if edits:
        out["edits"] = edits
    out["frames"] = len(sprite)
    out["size"] = [sprite.width, sprite.height]
    out["scale"] = scale
    if sprite.durations is None:
        out["fps"] = sprite.fps
    else:
        out["durations_ms"] = [round(d, 3) for d in sprite.durations]
    out["palette"] = list(sprite.palette.hex)
    out["transparent"] = sprite.transparent
    out["created"] = created_time()
    return out


def set_record(sprites: SpriteSet, scale: int = 1) -> dict[str, Any]:
    """The provenance record of a sprite set: each animation's source, generation, options
    and edits, and the palette, size and anchor they share."""
    keep = ("source", "generation", "options", "edits", "frames", "fps", "durations_ms")
    animations = {}
    for name, sprite in sprites.items():
        rec = record(sprite, scale)
        animations[name] = {k: rec[k] for k in keep if k in rec}
    first = record(sprites.first, scale)
    return {
        "format": FORMAT,
        "pixelnb": first["pixelnb"],
        "kind": "set",
        "animations": animations,
        "size": [sprites.width, sprites.height],
        "scale": scale,
        "anchor": sprites.anchor,
        "palette": first["palette"],
        "transparent": sprites.transparent,
        "created": first["created"],
    }


def dumps(rec: dict[str, Any]) -> str:
    """The record as compact, key-sorted JSON: the same record is always the same text."""
    return json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def xmp_packet(rec: dict[str, Any]) -> bytes:
    """An XMP packet (for WebP) holding the record as one attribute of pixelnb's namespace."""
    value = html.escape(dumps(rec), quote=True)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:pixelnb="{XMP_NS}" pixelnb:provenance="{value}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def parse_xmp(packet: bytes | str) -> dict[str, Any] | None:
    """The record inside an XMP packet written by :func:`xmp_packet`, or None."""
    import xml.etree.ElementTree as ET

    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for el in root.iter():
        value = el.attrib.get(f"{{{XMP_NS}}}provenance")
        if value is not None:
            return _loads(value)
    return None


def _loads(text: str | bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) and "pixelnb" in value else None


_TRES_LINE = re.compile(r"^; " + re.escape(KEY) + r" (.*)$", re.M)
_HTML_META = re.compile(r'<meta\s+name="' + re.escape(KEY) + r'"\s+content="([^"]*)"', re.I)


def provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record a pixelnb export carries: a GIF, PNG sheet (or its JSON),
    APNG, WebP, zip of frames, folder of frames, HTML page or Godot ``.tres``.

    Raises :class:`~pixelnb.OptionError` when the file is missing or holds no record.
    """
    p = Path(path)
    if p.is_dir():
        frames = sorted(p.glob("frame_*.png"))
        if not frames:
            raise OptionError(f"{str(p)!r} holds no pixelnb frames (frame_*.png)")
        p = frames[0]
    try:
        with open(p, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise OptionError(f"cannot read {str(p)!r}: {exc.strerror or exc}") from None
    found = _read(p, head)
    if found is None:
        raise OptionError(
            f"{str(p)!r} holds no pixelnb provenance: it was written by another program or edited since"
        )
    return found


def _read(p: Path, head: bytes) -> dict[str, Any] | None:
    if head.startswith(b"PK"):
        import zipfile

        try:
            with zipfile.ZipFile(p) as zf:
                return _loads(zf.comment)
        except zipfile.BadZipFile:
            return None
    if head.startswith((b"GIF87a", b"GIF89a", b"\x89PNG")) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as im:
                if im.format == "GIF":
                    return _loads(im.info.get("comment", b""))
                if im.format == "PNG":
                    return _loads(getattr(im, "text", {}).get(KEY, ""))
                return parse_xmp(im.info.get("xmp", b""))
        except (UnidentifiedImageError, OSError):
            return None
    text = p.read_text(encoding="utf-8", errors="replace")
    if text.startswith("[gd_resource"):  # a Godot resource: the record is a comment line
        m = _TRES_LINE.search(text)
        return _loads(m.group(1)) if m else None
    if text.lstrip().startswith("{"):
        try:
            meta = json.loads(text).get("meta", {})
        except (ValueError, AttributeError):
            return None
        value = meta.get("provenance") if isinstance(meta, dict) else None
        return value if isinstance(value, dict) else None
    m = _HTML_META.search(text)
    return _loads(html.unescape(m.group(1))) if m else None
