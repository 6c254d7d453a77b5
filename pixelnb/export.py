"""File exports of a Sprite: GIF, APNG, WebP, sprite sheet with Aseprite JSON, frames, HTML.

Indexed formats (GIF, PNG, APNG) are written as palette images with the Sprite's exact
colours, so re-reading a file gives back the same indices and palette. Frame timing is
rounded to each format's unit (10 ms for GIF, 1 ms elsewhere) with the rounding error
carried forward, so a 12 fps animation lasts the right time overall.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import DiskFull, OptionError
from pixelnb.stamp import KEY, dumps, record, xmp_packet

if TYPE_CHECKING:
    from PIL import Image

    from pixelnb.sprite import Sprite
    from pixelnb.spriteset import SpriteSet

__all__ = [
    "FORMATS",
    "check_target",
    "gif_bytes",
    "png_bytes",
    "rounded_durations",
    "save_set",
    "save_sprite",
    "set_tres",
    "sheet_layout",
    "sheet_png",
]

FORMATS = (".gif", ".png", ".apng", ".webp", ".html", ".zip")


def rounded_durations(durations: list[float], unit: int) -> list[int]:
    """Durations rounded to multiples of ``unit`` ms, the error carried to the next frame."""
    out: list[int] = []
    acc = 0.0
    shown = 0
    for d in durations:
        acc += d
        target = max(unit, round(acc / unit) * unit - shown)
        out.append(int(target))
        shown += int(target)
    return out


def sheet_layout(n: int, columns: int | None = None) -> tuple[int, int]:
    """(columns, rows) of a frame grid: near-square unless ``columns`` is given."""
    if columns is not None and columns < 1:
        raise OptionError(f"columns must be at least 1, got {columns}")
    cols = columns or max(1, math.ceil(math.sqrt(n)))
    cols = min(cols, max(n, 1))
    return cols, max(1, math.ceil(n / cols))


def check_scale(scale: int) -> None:
    """Refuse an upscale factor that is not a whole number from 1 to 64."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 64:
        raise OptionError(f"scale must be a whole number from 1 to 64, got {scale!r}")


def _upscale_indices(idx: NDArray[np.uint8], scale: int) -> NDArray[np.uint8]:
    check_scale(scale)
    return idx if scale == 1 else idx.repeat(scale, axis=-2).repeat(scale, axis=-1)


def _p_image(
    idx: NDArray[np.uint8], colors: NDArray[np.uint8], transparent: int | None = None
) -> Image.Image:
    """A palette image; ``transparent`` becomes PNG's tRNS entry or GIF's transparency index."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(idx), "P")
    im.putpalette(colors.tobytes())
    if transparent is not None:
        im.info["transparency"] = transparent
    return im


def _p_frames(sprite: Sprite, scale: int) -> list[Image.Image]:
    idx = _upscale_indices(sprite.indices, scale)
    return [_p_image(f, sprite.palette.colors, sprite.transparent) for f in idx]


def _alpha_args(sprite: Sprite) -> dict[str, Any]:
    """Save arguments for a transparent sprite: its index, and frames that replace the
    previous one whole (disposal 2), so a clear pixel never shows the frame before."""
    if sprite.transparent is None:
        return {}
    return {"transparency": sprite.transparent}


def _write_gif(sprite: Sprite, target: Any, scale: int, prov: str | None = None) -> None:
    frames = _p_frames(sprite, scale)
    extra: dict[str, Any] = {"comment": prov.encode()} if prov else {}
    frames[0].save(
        target,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=rounded_durations(sprite.frame_durations(), 10),
        loop=0,
        optimize=False,
        disposal=1 if sprite.transparent is None else 2,
        **_alpha_args(sprite),
        **extra,
    )


def gif_bytes(sprite: Sprite, scale: int = 1) -> bytes:
    """The animation as looping GIF bytes."""
    buf = io.BytesIO()
    _write_gif(sprite, buf, scale)
    return buf.getvalue()


def png_bytes(rgb: NDArray[np.uint8]) -> bytes:
    """An RGB array as PNG bytes (for display: zlib's default level, not the slow optimize)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def sheet_png(sprite: Sprite, scale: int = 1, gap: int = 1) -> bytes:
    """The contact sheet as an indexed PNG: the sprite's exact palette, plus white for the
    gaps (when the palette has room), at half the size and a fifth of the time of RGB."""
    cols, rows = sheet_layout(len(sprite))
    idx = _upscale_indices(sprite.indices, scale)
    _, h, w = idx.shape
    colors = sprite.palette.colors
    if len(colors) >= 256:
        return png_bytes(sprite.contact_sheet(scale=scale, gap=gap))
    white = len(colors)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap), white, np.uint8)
    for i, frame in enumerate(idx):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = frame
    buf = io.BytesIO()
    palette = np.vstack([colors, [[255, 255, 255]]]).astype(np.uint8)
    _p_image(out, palette, sprite.transparent).save(buf, format="PNG")
    return buf.getvalue()


def _pnginfo(prov: str | None) -> dict[str, Any]:
    """Save arguments that put the provenance record in a compressed iTXt chunk."""
    if not prov:
        return {}
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, prov, zip=True)
    return {"pnginfo": info}


def _write_sheet(
    sprite: Sprite, path: Path, scale: int, final: Path, columns: int | None = None, prov: str | None = None
) -> Path:
    """Write the sheet to ``path`` and its JSON beside it; names inside refer to ``final``."""
    cols, rows = sheet_layout(len(sprite), columns)
    idx = _upscale_indices(sprite.indices, scale)
    _, h, w = idx.shape
    sheet = np.zeros((rows * h, cols * w), dtype=np.uint8)
    durations = rounded_durations(sprite.frame_durations(), 1)
    frames = []
    for i, f in enumerate(idx):
        r, c = divmod(i, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = f
        rect = {"x": c * w, "y": r * h, "w": w, "h": h}
        frames.append(
            {
                "filename": f"{final.stem} {i}.png",
                "frame": rect,
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
                "sourceSize": {"w": w, "h": h},
                "duration": durations[i],
            }
        )
    if sprite.transparent is not None:
        sheet[:] = sprite.transparent  # cells with no frame are clear
        for i, f in enumerate(idx):
            r, c = divmod(i, cols)
            sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = f
    _p_image(sheet, sprite.palette.colors, sprite.transparent).save(
        path, format="PNG", optimize=True, **_pnginfo(prov)
    )
    from pixelnb._version import __version__

    meta: dict[str, Any] = {
        "app": "pixelnb",
        "version": __version__,
        "image": final.name,
        "format": "I8",
        "size": {"w": cols * w, "h": rows * h},
        "scale": "1",
        "frameTags": [{"name": "animation", "from": 0, "to": len(sprite) - 1, "direction": "forward"}],
        "layers": [],
        "slices": [],
        "palette": sprite.palette.hex,
    }
    if sprite.transparent is not None:
        meta["transparent"] = sprite.transparent
    if prov:
        meta["provenance"] = json.loads(prov)
    json_tmp = path.with_name(path.name + ".json")
    json_tmp.write_text(json.dumps({"frames": frames, "meta": meta}, indent=1), encoding="utf-8")
    return json_tmp


def _write_apng(sprite: Sprite, path: Path, scale: int, prov: str | None = None) -> None:
    frames = _p_frames(sprite, scale)
    frames[0].save(
        path,
        format="PNG",
        save_all=True,
        append_images=frames[1:],
        duration=rounded_durations(sprite.frame_durations(), 1),
        loop=0,
        default_image=False,
        **_alpha_args(sprite),
        **_pnginfo(prov),
    )


def _write_webp(sprite: Sprite, path: Path, scale: int, prov: str | None = None) -> None:
    from PIL import Image

    if sprite.transparent is None:
        frames = [Image.fromarray(f, "RGB") for f in sprite.to_rgb(scale)]
    else:
        frames = [Image.fromarray(f, "RGBA") for f in sprite.to_rgba(scale)]
    frames[0].save(
        path,
        format="WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=rounded_durations(sprite.frame_durations(), 1),
        loop=0,
        lossless=True,
        quality=100,
        method=4,
        **({"xmp": xmp_packet(json.loads(prov))} if prov else {}),
    )


def _frame_names(sprite: Sprite) -> list[str]:
    digits = max(3, len(str(len(sprite) - 1)))
    return [f"frame_{i:0{digits}d}.png" for i in range(len(sprite))]


def _write_frames(sprite: Sprite, folder: Path, scale: int, prov: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, im in zip(_frame_names(sprite), _p_frames(sprite, scale), strict=True):
        im.save(folder / name, format="PNG", optimize=True, **_pnginfo(prov))


# Zip entries carry a date; a fixed one (zip's earliest) keeps the file the same each run.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _write_zip(sprite: Sprite, path: Path, scale: int, prov: str | None = None) -> None:
    """The frames as PNGs in one zip, written straight into it (no folder on disk); the
    provenance record is the zip's comment and each frame's iTXt."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for name, im in zip(_frame_names(sprite), _p_frames(sprite, scale), strict=True):
            buf = io.BytesIO()
            im.save(buf, format="PNG", optimize=True, **_pnginfo(prov))
            entry = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, buf.getvalue())
        if prov:
            zf.comment = prov.encode()[:65535]


def _write_frames_atomic(sprite: Sprite, folder: Path, scale: int, prov: str | None = None) -> None:
    """Write the frames into a hidden folder beside ``folder``, then move them in: a full
    disk or a crash leaves no partial set of frames."""
    import shutil
    import tempfile

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    try:
        _write_frames(sprite, tmp, scale, prov)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the frames folder is not
        if not folder.exists():
            os.replace(tmp, folder)  # atomic: the folder appears whole
            return
        for old in folder.glob("frame_*.png"):  # a re-export replaces the earlier frames
            old.unlink()
        for f in sorted(tmp.iterdir()):
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_html(sprite: Sprite, path: Path, scale: int, prov: str | None = None) -> None:
    import base64
    import html

    sheet = sprite.contact_sheet(scale=max(scale, 2), gap=2)
    sheet_b64 = base64.b64encode(png_bytes(sheet)).decode("ascii")
    title = html.escape(f"pixelnb — {Path(sprite.source).name if sprite.source else 'sprite'}")
    meta = f'\n<meta name="{KEY}" content="{html.escape(prov, quote=True)}">' if prov else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{meta}
<style>body{{font-family:system-ui,sans-serif;margin:2em;background:#f4f4f4;color:#222}}
section{{margin-bottom:2em}} img{{image-rendering:pixelated;image-rendering:crisp-edges}}
img.grid{{max-width:100%;height:auto}}</style></head>
<body><h1>{title}</h1><p>{html.escape(repr(sprite))}</p>
<section><h2>Animation</h2>{sprite.to_html()}</section>
<section><h2>Frames</h2><img class="grid" alt="frame grid" src="data:image/png;base64,{sheet_b64}"
 width="{sheet.shape[1]}" height="{sheet.shape[0]}"></section>
<section><h2>Palette</h2>{sprite.palette.to_html(28)}
<p><code>{" ".join(sprite.palette.hex)}</code></p></section>
</body></html>
"""
    path.write_text(body, encoding="utf-8")


MAX_OUTPUT_BYTES = 1 << 31  # pixels of all frames after scaling, one byte each


def _is_folder_target(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return p.is_dir() or p.suffix == "" or str(path).endswith(("/", os.sep))


def check_target(path: str | os.PathLike[str]) -> Path:
    """Refuse an output path that cannot be written, before any work is done (or paid).

    The extension must name a format (or the path a folder for PNG frames), the folder it
    goes in must exist and be writable, and the name must fit the file system's limit.
    """
    p = Path(path)
    name_max = 255
    with_part = len(os.fsencode(f".{p.name}.part.json"))
    if with_part > name_max:
        raise OptionError(
            f"the output name is {len(os.fsencode(p.name))} bytes long; use a name under "
            f"{name_max - (with_part - len(os.fsencode(p.name)))} bytes"
        )
    folder = p if _is_folder_target(path) else p.parent
    if not _is_folder_target(path) and p.suffix.lower() not in FORMATS:
        raise OptionError(
            f"cannot save as {p.suffix.lower()!r}: use one of {', '.join(FORMATS)} or a folder for PNG frames"
        )
    probe = folder if folder.exists() else folder.parent
    if not _is_folder_target(path) and not folder.exists():
        raise OptionError(f"the folder {str(folder)!r} does not exist; create it first")
    if probe.exists() and not os.access(probe, os.W_OK):
        raise OptionError(f"cannot write in the folder {str(probe)!r}; choose another output")
    return p


def save_sprite(sprite: Sprite, path: str | os.PathLike[str], scale: int = 1) -> Path:
    """Write ``sprite`` to ``path`` in the format its extension names (see Sprite.save).

    Nothing partial is left behind: a file is written under a hidden ``.part`` name and
    renamed when whole; a frames folder is written beside its target and renamed in.
    """
    check_scale(scale)  # before touching the disk
    p = check_target(path)
    total = len(sprite) * sprite.width * sprite.height * scale * scale
    if total > MAX_OUTPUT_BYTES:
        raise OptionError(
            f"{len(sprite)} frames of {sprite.width * scale}x{sprite.height * scale} pixels is too much "
            f"to write ({total / 2**30:.1f} GiB); use a smaller scale"
        )
    try:
        return _save(sprite, p, scale, folder=_is_folder_target(path))
    except OSError as exc:
        if DiskFull.caused(exc):
            raise DiskFull(p, "the export") from None
        raise


def _save(sprite: Sprite, p: Path, scale: int, folder: bool) -> Path:
    ext = p.suffix.lower()
    prov = dumps(record(sprite, scale))
    if folder:
        _write_frames_atomic(sprite, p, scale, prov)
        return p
    tmp = p.with_name(f".{p.name}.part")
    writers = {
        ".gif": _write_gif,
        ".apng": _write_apng,
        ".webp": _write_webp,
        ".html": _write_html,
        ".zip": _write_zip,
    }
    json_tmp = tmp.with_name(tmp.name + ".json")
    try:
        if ext == ".png":
            _write_sheet(sprite, tmp, scale, final=p, prov=prov)
            json_tmp.replace(p.with_suffix(".json"))
        else:
            writers[ext](sprite, tmp, scale, prov)
        tmp.replace(p)  # atomic: a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
        json_tmp.unlink(missing_ok=True)
    return p


# -- sprite sets -------------------------------------------------------------------------------
def _set_sheet(sprites: SpriteSet, scale: int) -> tuple[NDArray[np.uint8], list[dict[str, Any]]]:
    """The set's sheet (a row per animation, its frames left to right) and each frame's
    place: (name, index, x, y, w, h, duration ms)."""
    w, h = sprites.width * scale, sprites.height * scale
    cols = max(len(s) for s in sprites.values())
    fill = sprites.transparent if sprites.transparent is not None else 0
    sheet = np.full((len(sprites) * h, cols * w), fill, np.uint8)
    places = []
    for row, (name, sprite) in enumerate(sprites.items()):
        durations = rounded_durations(sprite.frame_durations(), 1)
        for i, frame in enumerate(_upscale_indices(sprite.indices, scale)):
            sheet[row * h : (row + 1) * h, i * w : (i + 1) * w] = frame
            places.append(
                {"name": name, "i": i, "x": i * w, "y": row * h, "w": w, "h": h, "ms": durations[i]}
            )
    return sheet, places


def _set_json(
    sprites: SpriteSet, places: list[dict[str, Any]], image: str, size: tuple[int, int], prov: str
) -> str:
    """Aseprite's array format: every frame in order, a tag per animation."""
    from pixelnb._version import __version__

    frames = [
        {
            "filename": f"{p['name']} {p['i']}.png",
            "frame": {"x": p["x"], "y": p["y"], "w": p["w"], "h": p["h"]},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": p["w"], "h": p["h"]},
            "sourceSize": {"w": p["w"], "h": p["h"]},
            "duration": p["ms"],
        }
        for p in places
    ]
    tags, start = [], 0
    for name, sprite in sprites.items():
        direction = "pingpong" if sprite.info.get("pingpong") else "forward"
        tags.append({"name": name, "from": start, "to": start + len(sprite) - 1, "direction": direction})
        start += len(sprite)
    meta: dict[str, Any] = {
        "app": "pixelnb",
        "version": __version__,
        "image": image,
        "format": "I8",
        "size": {"w": size[0], "h": size[1]},
        "scale": "1",
        "frameTags": tags,
        "layers": [],
        "slices": [],
        "palette": sprites.palette.hex,
        "provenance": json.loads(prov),
    }
    if sprites.transparent is not None:
        meta["transparent"] = sprites.transparent
    return json.dumps({"frames": frames, "meta": meta}, indent=1)


def _loops(sprite: Sprite) -> bool:
    """Whether an animation is a cycle: False only when a loop was asked for and none found."""
    return not ("loop" in sprite.info and sprite.info["loop"] is None)


def _godot_string(text: str) -> str:
    """Text inside a Godot string literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _godot_number(x: float) -> str:
    text = f"{x:.6g}"
    return text if any(c in text for c in ".e") else text + ".0"


def set_tres(sprites: SpriteSet, places: list[dict[str, Any]], texture: str, prov: str) -> str:
    """A Godot 4 ``SpriteFrames`` resource: one animation per name with its speed (fps) and
    loop flag, each frame an AtlasTexture region of the sheet at ``texture`` (a res:// path);
    frames that last longer than the animation's base step get a longer relative duration."""
    subs = []
    anims = []
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in places:
        by_name.setdefault(p["name"], []).append(p)
    n = 0
    for name, sprite in sprites.items():
        # Godot plays `speed` steps a second, each frame `duration` steps: the exact rate
        # when frames last alike, else the shortest frame as the step.
        exact = sprite.frame_durations()
        base = 1000.0 / sprite.fps if sprite.durations is None and sprite.fps else min(exact)
        frames = []
        for p, ms in zip(by_name[name], exact, strict=True):
            n += 1
            sub = f"AtlasTexture_{n}"
            subs.append(
                f'[sub_resource type="AtlasTexture" id="{sub}"]\natlas = ExtResource("1_sheet")\n'
                f"region = Rect2({p['x']}, {p['y']}, {p['w']}, {p['h']})\n"
            )
            duration = _godot_number(ms / base)
            frames.append(f'{{\n"duration": {duration},\n"texture": SubResource("{sub}")\n}}')
        anims.append(
            '{\n"frames": [' + ", ".join(frames) + "],\n"
            f'"loop": {"true" if _loops(sprite) else "false"},\n'
            f'"name": &"{_godot_string(name)}",\n'
            f'"speed": {_godot_number(1000.0 / base)}\n}}'
        )
    head = f'[gd_resource type="SpriteFrames" load_steps={len(subs) + 2} format=3]\n\n'
    prov_line = f"; {KEY} {prov}\n\n"
    ext = f'[ext_resource type="Texture2D" path="{texture}" id="1_sheet"]\n\n'
    body = "\n".join(subs) + "\n[resource]\nanimations = [" + ", ".join(anims) + "]\n"
    return head + prov_line + ext + body


def save_set(
    sprites: SpriteSet, path: str | os.PathLike[str], scale: int = 1, *, res_dir: str = "res://"
) -> Path:
    """Write a sprite set (see SpriteSet.save), each file whole or not at all."""
    from pixelnb.stamp import set_record

    check_scale(scale)
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in ("", ".png", ".tres"):
        raise OptionError(
            f"a sprite set saves as .png (+ .json), .tres (+ .png) or a folder of GIFs, not {ext!r}"
        )
    if not isinstance(res_dir, str) or not res_dir.startswith("res://"):
        raise OptionError(
            f"res_dir is where the sheet sits in the Godot project, such as 'res://sprites/', not {res_dir!r}"
        )
    folder = p if ext == "" else p.parent
    if ext and not folder.exists():
        raise OptionError(f"the folder {str(folder)!r} does not exist; create it first")
    prov = dumps(set_record(sprites, scale))
    try:
        if ext == "":
            p.mkdir(parents=True, exist_ok=True)
            for name, sprite in sprites.items():
                save_sprite(sprite, p / f"{name}.gif", scale)
            return p
        sheet, places = _set_sheet(sprites, scale)
        png = p.with_suffix(".png")
        parts = {png: None, png.with_suffix(".json"): None, **({p: None} if ext == ".tres" else {})}
        tmp = {final: final.with_name(f".{final.name}.part") for final in parts}
        try:
            _p_image(sheet, sprites.palette.colors, sprites.transparent).save(
                tmp[png], format="PNG", optimize=True, **_pnginfo(prov)
            )
            size = (sheet.shape[1], sheet.shape[0])
            tmp[png.with_suffix(".json")].write_text(
                _set_json(sprites, places, png.name, size, prov), "utf-8"
            )
            if ext == ".tres":
                texture = res_dir.rstrip("/") + "/" + png.name if res_dir != "res://" else "res://" + png.name
                tmp[p].write_text(set_tres(sprites, places, texture, prov), "utf-8")
            for final, part in tmp.items():
                part.replace(final)
        finally:
            for part in tmp.values():
                part.unlink(missing_ok=True)
        return p
    except OSError as exc:
        if DiskFull.caused(exc):
            raise DiskFull(p, "the sprite set") from None
        raise
