"""Video or Clip in, Sprite out: downscale to the pixel grid, fit one palette, map indices.

The stages, each a plain function of the modules below it:

1. :func:`pixelnb.video.sample` decodes only the frames wanted and shrinks each as it
   arrives (area averaging by default), so memory follows the output, not the source;
2. :func:`pixelnb.palette.fit_palette` fits one palette on all frames together (or a
   preset, list or file is used, capped to ``colors`` by how much each colour is used);
3. :func:`pixelnb.quantize.map_indices` maps every pixel to its exact nearest colour with
   index hysteresis, after ordered dithering if asked; Floyd–Steinberg goes through Pillow.

With ``grid="auto"`` (or a :class:`~pixelnb.grid.Grid`), step 1 decodes full-size frames,
:func:`pixelnb.grid.detect` looks for the pixel grid an AI "pixel art" video imitates, and
where it is found, :meth:`~pixelnb.grid.Grid.cells` takes one colour per cell instead of
shrinking (else the frames are shrunk with ``downscale``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pixelnb.color import from_space, to_space
from pixelnb.errors import OptionError
from pixelnb.grid import Grid
from pixelnb.loop import find_loop
from pixelnb.matte import Background, Matte, find_matte
from pixelnb.options import HYSTERESIS, PixelOptions
from pixelnb.palette import MIN_COLORS, Palette, PaletteSpec, fit_palette, resolve_palette
from pixelnb.quantize import floyd_steinberg, map_indices, ordered_offsets
from pixelnb.resize import MODE_FACTOR, block_mode, resize_frames
from pixelnb.sprite import Sprite
from pixelnb.stamp import file_sha256, source_record
from pixelnb.video import Backend, Clip, Size, fit_size, probe, sample

__all__ = ["HYSTERESIS", "pixelate", "pixelate_with"]

# CIELAB units. A pixel keeps its colour unless another is HYSTERESIS (3) units closer; a
# pixel whose own colour moved less than 3 units since the last frame keeps it unless
# another is 8 units closer (flicker 0.2-1.0 % on the clips of benchmarks/run.py).
STILL = 3.0
STILL_MARGIN = 8.0
SPACE = "lab"
LOOP_MIN_FRAMES = 4

StageProgress = Callable[[str, float], None]


def _resample_clip(clip: Clip, fps: float) -> Clip:
    """Pick the frames of an already sampled clip nearest to a new, lower or higher rate."""
    if not 0 < fps <= 240:
        raise OptionError(f"fps must be above 0 and at most 240, got {fps!r}")
    ts = clip.timestamps
    end = ts[-1] + 1.0 / clip.fps
    wanted = np.arange(ts[0], end - 1e-9, 1.0 / fps)
    right = np.clip(np.searchsorted(ts, wanted), 0, len(ts) - 1)
    left = np.clip(right - 1, 0, len(ts) - 1)
    pick = np.where(np.abs(ts[left] - wanted) <= np.abs(ts[right] - wanted), left, right)
    return Clip(clip.frames[pick], float(fps), ts[pick], clip.source, clip.rotation, dict(clip.meta))


def _cap_palette(preset: Palette, pixels: NDArray[np.float32], colors: int) -> Palette:
    """Keep the ``colors`` preset colours the frames use most (all, if it has no more)."""
    if len(preset) <= colors:
        return preset
    pal = to_space(preset.colors, SPACE)
    step = max(1, len(pixels) // 65536)
    use = np.bincount(map_indices(pixels[::step][None, None], pal)[0, 0], minlength=len(preset))
    keep = np.sort(np.argsort(-use, kind="stable")[:colors])
    return Palette(preset.colors[keep], name=f"{preset.name} ({colors} used)")


def pixelate(
    source: str | os.PathLike[str] | Clip,
    size: Size = 64,
    colors: int = 16,
    palette: PaletteSpec = "auto",
    dither: str = "none",
    fps: float | None = None,
    downscale: str = "area",
    *,
    start: float | None = None,
    end: float | None = None,
    backend: Backend = "pyav",
    exact: bool = False,
    hysteresis: float = HYSTERESIS,
    grid: str | Grid = "off",
    background: Background = "keep",
    loop: str = "off",
    progress: StageProgress | None = None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
) -> Sprite:
    """Turn a video file (or a :class:`~pixelnb.video.Clip`) into a pixel-art :class:`Sprite`.

    ``size`` is the longest side (aspect kept) or (w, h); ``colors`` caps the palette
    (2..256); ``palette`` is ``"auto"``, a preset name, a ``.hex``/``.gpl`` file, a list of
    hex colours or a Palette; ``dither`` is ``none``, ``bayer2``, ``bayer4``, ``bayer8`` or
    ``fs``; ``fps`` resamples time (None keeps the source rate); ``downscale`` is ``area``,
    ``nearest`` or ``mode``. ``exact=False`` lets the decoder skip frames no picked frame
    depends on when sampling well below the source rate (see :func:`pixelnb.sample`).
    ``on_frame`` sees each source frame (at the working size) as it is decoded.
    ``grid="auto"`` looks for the pixel grid an AI "pixel art" video only imitates and, when
    it is found with confidence, takes one colour per detected cell instead of resizing
    (``size`` is then a prior on the cell count; an exact ``(w, h)`` crops or pads the
    cells); ``sprite.info["grid"]`` says what was done. A :class:`~pixelnb.grid.Grid`
    uses that grid. Grid detection decodes frames at full size.

    ``background="auto"`` finds the background (connected to the frame border, near a
    model fitted from the border over all frames) and makes it transparent; a colour
    (``"#00ff00"``, ``(0, 255, 0)``) keys that colour; ``"keep"`` keeps it. The palette is
    then fitted on the subject alone and ``sprite.transparent`` is the clear index (0).
    ``loop="auto"`` trims to the best seamless loop (``sprite.info["loop"]``; None when
    nothing loops well enough).

    >>> from pixelnb.data import sample_clip
    >>> sprite = pixelate(sample_clip(), size=32, colors=8, fps=6)
    >>> sprite.indices.shape, len(sprite.palette) <= 8
    ((32, 18, 32), True)
    """
    opts = PixelOptions(
        size=size,
        colors=colors,
        palette=palette,
        dither=dither,
        fps=fps,
        downscale=downscale,
        grid=grid,
        start=start,
        end=end,
        backend=backend,
        exact=exact,
        hysteresis=hysteresis,
        background=background,
        loop=loop,
    )
    return pixelate_with(source, opts, progress=progress, on_frame=on_frame)


def pixelate_with(
    source: str | os.PathLike[str] | Clip,
    opts: PixelOptions,
    *,
    progress: StageProgress | None = None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
) -> Sprite:
    """:func:`pixelate` with its options already checked as a :class:`PixelOptions`."""
    if not isinstance(source, (str, os.PathLike, Clip)):
        raise OptionError(f"source must be a video file path or a Clip, not {source!r}")
    # The source file is hashed for the provenance record beside the decoding (hashlib
    # lets go of the GIL), so it costs no wall time.
    hashing = None if isinstance(source, Clip) else _Hasher(source)
    sprite = _pixelate_with(source, opts, progress=progress, on_frame=on_frame)
    noted: dict[str, Any] = {"options": opts.to_dict()}
    if isinstance(source, Clip):
        noted["source"] = source_record(source.source, sha256="") if source.source else {}
    else:
        assert hashing is not None
        noted["source"] = source_record(source, hashing.result())
    sprite.info["provenance"] = noted
    return sprite


class _Hasher:
    """The sha256 of a file, computed on a thread from the moment it is made."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import threading

        self._path = path
        self._digest: str | None = None
        self._thread = threading.Thread(target=self._run, name="pixelnb-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # a missing file fails the decode, with its message
            self._digest = file_sha256(self._path)

    def result(self) -> str | None:
        self._thread.join()
        return self._digest


def _pixelate_with(
    source: str | os.PathLike[str] | Clip,
    opts: PixelOptions,
    *,
    progress: StageProgress | None = None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
) -> Sprite:
    size, fps, downscale = opts.size, opts.fps, opts.downscale
    start, end, backend, exact = opts.start, opts.end, opts.backend, opts.exact
    fixed = resolve_palette(opts.palette)

    def report(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, frac)

    note = ""
    if fps is not None and not isinstance(source, Clip):
        rate = probe(source, rotation=False).fps
        if rate > 0 and fps > rate * 1.001:
            # More frames than the video has would only repeat frames: take each one once.
            note = f"asked {fps:g} fps; the video has {rate:g} fps, so every frame once at {rate:g} fps"
            fps = rate
            opts = opts.replace(fps=rate)
    if opts.grid != "off":
        sprite = _pixelate_on_grid(source, opts, fixed, progress=progress, on_frame=on_frame)
        if note:
            sprite.info["fps_note"] = note
        return sprite
    factor = MODE_FACTOR if downscale == "mode" or opts.background != "keep" else 1
    if isinstance(source, Clip):
        clip = source if fps is None else _resample_clip(source, fps)
        out_w, out_h = fit_size(clip.width, clip.height, size)
        factor = max(1, min(factor, clip.width // out_w, clip.height // out_h))
        work = resize_frames(
            clip.frames, (out_w * factor, out_h * factor), "nearest" if downscale == "nearest" else "area"
        )
        src_name = clip.source
    else:
        dims: dict[str, Any] = {}

        def working_size(w: int, h: int) -> tuple[int, int]:
            # Chosen once the decoder has told the displayed size: no separate probe.
            out = fit_size(w, h, size)
            f = max(1, min(factor, w // out[0], h // out[1]))
            dims.update(out=out, factor=f)
            return out[0] * f, out[1] * f

        clip = sample(
            source,
            fps=fps,
            start=start,
            end=end,
            size=working_size,
            backend=backend,  # type: ignore[arg-type]
            exact=exact,
            interpolation="POINT" if downscale == "nearest" else "AREA",
            progress=lambda f: report("sampling", f),
            on_frame=on_frame,
        )
        (out_w, out_h), factor = dims["out"], dims["factor"]
        work = clip.frames
        src_name = str(source)
    return _quantize(
        work,
        (out_w, out_h),
        factor,
        clip,
        src_name,
        opts,
        fixed,
        downscale,
        report,
        {"fps_note": note} if note else None,
    )


def _quantize(
    work: NDArray[np.uint8],
    out_size: tuple[int, int],
    factor: int,
    clip: Clip,
    src_name: str | None,
    opts: PixelOptions,
    fixed: Palette | None,
    downscale: str,
    report: StageProgress,
    extra: dict[str, Any] | None = None,
) -> Sprite:
    """Key out the background if asked, fit the palette on what stays, map every frame to
    indices, and trim to a loop if asked. ``work`` is at ``factor`` times ``out_size``."""
    colors, dither, hysteresis = opts.colors, opts.dither, opts.hysteresis
    out_w, out_h = out_size
    t_count = len(work)
    report("palette", 0.0)
    values = to_space(work, SPACE)
    matte: Matte | None = None
    if opts.background != "keep":
        matte = find_matte(values, factor, opts.background)
        cells = matte.cells
        colors = min(colors, 255)  # one index is the transparent one
    elif factor > 1:
        cells = values.reshape(t_count, out_h, factor, out_w, factor, 3).mean(axis=(2, 4), dtype=np.float32)
    else:
        cells = values
    # The palette is fitted on what each downscale keeps: the working pixels (mode votes
    # among them), or the subject's cells alone when the background is keyed out.
    if matte is None:
        flat = values.reshape(-1, 3)
    elif downscale == "mode" and (~matte.background_px).any():
        flat = values[~matte.background_px]
    else:
        flat = cells[matte.opaque] if matte.opaque.any() else cells.reshape(-1, 3)
    if fixed is None:
        centers = fit_palette(flat, colors)
        pal = Palette(from_space(centers, SPACE), name="auto")
        # Rounding to 8-bit sRGB can merge two centres; keep the colours distinct.
        _, first = np.unique(pal.colors, axis=0, return_index=True)
        if len(first) < len(pal):
            if len(first) < MIN_COLORS and matte is None:
                raise OptionError("the frames hold a single colour; there is nothing to quantize")
            pal = Palette(pal.colors[np.sort(first)], name="auto")
    else:
        pal = _cap_palette(fixed, flat, colors)
    pal_values = to_space(pal.colors, SPACE)
    report("quantizing", 0.0)
    # hysteresis=0 turns every temporal rule off (each frame maps on its own).
    temporal: dict[str, Any] = {
        "hysteresis": hysteresis,
        "still": STILL if hysteresis > 0 else 0.0,
        "still_margin": max(STILL_MARGIN, hysteresis) if hysteresis > 0 else 0.0,
    }
    # Dithering works on sRGB cells: the frames themselves, or the matte's cleaned colours.
    rgb_cells = work if factor == 1 and matte is None else from_space(cells, SPACE)
    if downscale == "mode" and factor > 1:
        fine = map_indices(values, pal_values)
        if matte is not None:  # background subpixels get no vote
            fine[matte.background_px] = len(pal)
        proposals = block_mode(fine, factor, len(pal) + 1, skip=len(pal))
        indices = map_indices(cells, pal_values, proposals=proposals, **temporal)
    elif dither == "fs":
        indices = floyd_steinberg(rgb_cells, pal.colors)
    elif dither.startswith("bayer"):
        n = int(dither[5:])
        # Spread the threshold over the typical gap between neighbouring palette colours.
        d = np.sqrt(np.maximum(_pairwise(pal.colors.astype(np.float32)), 0))
        np.fill_diagonal(d, np.inf)
        strength = float(np.median(d.min(axis=1))) if len(pal) > 1 else 0.0
        shifted = (
            rgb_cells.astype(np.float32) + ordered_offsets((out_h, out_w), n, strength)[None, :, :, None]
        )
        indices = map_indices(
            to_space(np.clip(shifted, 0, 255) / 255.0, SPACE), pal_values, hysteresis=hysteresis
        )
    else:
        indices = map_indices(cells, pal_values, **temporal)
    transparent: int | None = None
    if matte is not None:
        # Index 0 is the clear one (Aseprite's convention); its colour, the backdrop's, is
        # only what a format without alpha shows.
        indices = np.where(matte.opaque, indices + 1, 0).astype(np.uint8)
        pal = Palette(np.vstack([np.array(matte.backdrop, np.uint8), pal.colors]), name=pal.name)
        transparent = 0
    report("quantizing", 1.0)
    info_dict: dict[str, Any] = {
        "size": (out_w, out_h),
        "colors": colors,
        "palette": pal.name,
        "dither": dither,
        "downscale": downscale,
        "fps": clip.fps,
        "timestamps": clip.timestamps.tolist(),
        "backend": clip.meta.get("backend"),
    }
    if matte is not None:
        info_dict["matte"] = matte.info
    info_dict.update(extra or {})
    sprite = Sprite(indices, pal, fps=clip.fps, source=src_name, info=info_dict, transparent=transparent)
    if opts.loop == "auto":
        sprite = _trim_to_loop(sprite)
    return sprite


def _trim_to_loop(sprite: Sprite) -> Sprite:
    """The sprite cut to its best seamless loop, with ``info["loop"]`` saying what was done."""
    if len(sprite) < LOOP_MIN_FRAMES + 1:
        raise OptionError(
            f"loop='auto' needs at least {LOOP_MIN_FRAMES + 1} frames to find a loop of "
            f"{LOOP_MIN_FRAMES}; this clip gave {len(sprite)} (use a longer span or a higher fps)"
        )
    loop = find_loop(sprite, min_frames=LOOP_MIN_FRAMES)
    if not loop:
        return sprite.replace(info={**sprite.info, "loop": None, "loop_score": round(loop.score, 3)})
    stamps = sprite.info["timestamps"][loop.start : loop.stop]
    trimmed = sprite.trim(loop.start, loop.stop)
    return trimmed.replace(info={**sprite.info, "loop": loop.to_dict(), "timestamps": stamps})


def _pixelate_on_grid(
    source: str | os.PathLike[str] | Clip,
    opts: PixelOptions,
    fixed: Palette | None,
    *,
    progress: StageProgress | None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None,
) -> Sprite:
    """pixelate() with grid="auto" or a Grid: one colour per detected cell, else the
    frames shrunk with ``opts.downscale``."""
    from pixelnb.grid import MIN_CONFIDENCE, GridStream, detect

    def report(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, frac)

    size, grid = opts.size, opts.grid
    prior: int | tuple[int, int] = size if isinstance(size, int) else (int(size[0]), int(size[1]))
    if isinstance(source, Clip):
        clip = source if opts.fps is None else _resample_clip(source, opts.fps)
        found = grid if isinstance(grid, Grid) else detect(clip, cells=prior)
        confident = isinstance(grid, Grid) or found.confidence >= MIN_CONFIDENCE
        frames = found.cells(clip) if confident else clip.frames
    else:
        # Streamed: the grid is found on the first frames, then each frame's cells are read
        # as it is decoded, so a long clip's full-size frames never sit in memory together.
        shrunk: dict[str, Any] = {}

        def shrink(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
            if not shrunk:
                out = fit_size(frame.shape[1], frame.shape[0], size)
                shrunk.update(out=out, factor=_mode_factor(opts, frame, out))
            (w, h), f = shrunk["out"], shrunk["factor"]
            method = "nearest" if opts.downscale == "nearest" else "area"
            small: NDArray[np.uint8] = resize_frames(frame[None], (w * f, h * f), method)[0]
            return small

        stream = GridStream(cells=prior, grid=grid if isinstance(grid, Grid) else None, shrink=shrink)

        def take(frame: NDArray[np.uint8]) -> None:
            stream.push(frame)
            if on_frame is not None:
                on_frame(frame)

        clip = sample(
            source,
            fps=opts.fps,
            start=opts.start,
            end=opts.end,
            backend=opts.backend,  # type: ignore[arg-type]
            exact=opts.exact,
            progress=lambda f: report("sampling", f),
            on_frame=take,
            keep=False,
        )
        stream.finish()
        assert stream.grid is not None
        found, confident = stream.grid, stream.confident
        frames = np.stack(stream.out)
        clip = Clip(frames, clip.fps, clip.timestamps, clip.source, clip.rotation, clip.meta)
    src_name = clip.source
    factor = 1
    if confident:
        cells = frames
        if not isinstance(size, int):
            cells = _crop_or_pad(cells, (int(size[0]), int(size[1])))
        note = f"{found!r}: one colour per cell"
        downscale = "grid"
        out = (cells.shape[2], cells.shape[1])
    else:
        downscale = opts.downscale
        if isinstance(source, Clip):
            out = fit_size(clip.width, clip.height, size)
            factor = _mode_factor(opts, clip.frames[0], out)
            method = "nearest" if downscale == "nearest" else "area"
            cells = resize_frames(clip.frames, (out[0] * factor, out[1] * factor), method)
        else:
            cells = frames  # shrunk as they came
            out, factor = shrunk["out"], shrunk["factor"]
        note = f"no grid (confidence {found.confidence:.2f} < {MIN_CONFIDENCE}): {downscale} downscale"
    return _quantize(
        cells,
        out,
        factor,
        clip,
        src_name,
        opts,
        fixed,
        downscale,
        report,
        extra={"grid": note, "grid_confidence": found.confidence},
    )


def _mode_factor(opts: PixelOptions, frame: NDArray[np.uint8], out: tuple[int, int]) -> int:
    """How many times the output size the frames are shrunk to before ``mode`` picks a
    palette index per block (1 for the other downscales)."""
    if opts.downscale != "mode" and opts.background == "keep":
        return 1
    return int(max(1, min(MODE_FACTOR, frame.shape[1] // out[0], frame.shape[0] // out[1])))


def _crop_or_pad(cells: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """Centre-crop or edge-pad (T, h, w, 3) cells to exactly ``size`` = (w, h)."""
    w, h = size
    _t, ch, cw, _ = cells.shape
    out = cells
    if ch > h:
        out = out[:, (ch - h) // 2 : (ch - h) // 2 + h]
    if cw > w:
        out = out[:, :, (cw - w) // 2 : (cw - w) // 2 + w]
    ph, pw = h - out.shape[1], w - out.shape[2]
    if ph > 0 or pw > 0:
        out = np.pad(out, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(out)


def _pairwise(c: NDArray[np.float32]) -> NDArray[np.float32]:
    diff = c[:, None, :] - c[None, :, :]
    out: NDArray[np.float32] = (diff * diff).sum(axis=-1)
    return out
