"""Make "AI pixel art" test frames from real sprites: the grid recovery's test data.

:func:`scene` paints a whole scene the way a video model does: the sprite covering a
little or all of a 16:9, 9:16 or 1:1 frame over a flat, banded or textured background,
every cell boundary placed on its own (irregular cells), warped lines, zoom drift,
rotation, per-cell colour noise; :func:`scene_score` scores recovered cells against the
intended ones. :func:`degrade` scales a sprite by a non-integer factor with a sub-cell offset and a
slight rotation, optionally bends and drifts the grid lines, blurs the edges and adds
grain, the way a video model's "pixel art" looks. Tests and benchmarks then encode the
frames as H.264 and score the recovered cells against the sprite's own pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BACKGROUNDS",
    "Scene",
    "cell_score",
    "composite",
    "degrade",
    "grid_score",
    "scene",
    "scene_score",
    "true_cells",
]


def composite(rgba: NDArray[np.uint8], background: tuple[int, int, int]) -> NDArray[np.uint8]:
    """An RGBA sprite over a solid background, as RGB."""
    rgb = rgba[..., :3].astype(np.float64)
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    out: NDArray[np.uint8] = (rgb * a + np.array(background) * (1 - a)).round().astype(np.uint8)
    return out


def degrade(
    sprite: NDArray[np.uint8],
    *,
    scale: float,
    offset: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    margin: int = 3,
    bend: float = 0.0,
    drift: tuple[float, float] = (0.0, 0.0),
    frame_index: int = 0,
    blur: float = 0.0,
    grain: float = 0.0,
    seed: int = 0,
) -> NDArray[np.uint8]:
    """Render an RGB sprite (h, w, 3) as a larger, imperfect frame.

    ``scale`` is the cell pitch in pixels, ``offset`` a sub-cell shift (pixels), ``angle``
    a rotation in degrees, ``margin`` the cells of background around the sprite, ``bend``
    the amplitude (pixels) of a slow wave in the grid lines, ``drift`` a per-frame shift
    (pixels) multiplied by ``frame_index``, ``blur`` a Gaussian sigma and ``grain`` the
    standard deviation of the noise.
    """
    from PIL import Image, ImageFilter

    h, w = sprite.shape[:2]
    bg = sprite[0, 0]
    canvas = np.empty((h + 2 * margin, w + 2 * margin, 3), np.uint8)
    canvas[:] = bg
    canvas[margin : margin + h, margin : margin + w] = sprite
    ch, cw = canvas.shape[:2]
    out_w = math.ceil(cw * scale) // 2 * 2
    out_h = math.ceil(ch * scale) // 2 * 2
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    cx, cy = out_w / 2, out_h / 2
    th = math.radians(angle)
    # Inverse map: frame pixel -> canvas cell (rotation about the centre, then the offset).
    xr = math.cos(th) * (xx - cx) + math.sin(th) * (yy - cy) + cx
    yr = -math.sin(th) * (xx - cx) + math.cos(th) * (yy - cy) + cy
    xr -= offset[0] + drift[0] * frame_index
    yr -= offset[1] + drift[1] * frame_index
    if bend:
        xr += bend * np.sin(2 * np.pi * yr / (out_h * 0.9))
        yr += bend * np.sin(2 * np.pi * xr / (out_w * 1.1) + 1.0)
    u = np.floor(xr / scale).astype(np.intp)
    v = np.floor(yr / scale).astype(np.intp)
    inside = (u >= 0) & (u < cw) & (v >= 0) & (v < ch)
    frame = np.empty((out_h, out_w, 3), np.uint8)
    frame[:] = bg
    frame[inside] = canvas[v[inside], u[inside]]
    if blur:
        frame = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(blur)))
    if grain:
        noise = np.random.default_rng(seed + frame_index).normal(0, grain, frame.shape)
        frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
    return frame


def cell_score(
    cells: NDArray[np.uint8],
    sprite: NDArray[np.uint8],
    threshold: float = 5.0,
    near: tuple[int, int] | None = None,
) -> float:
    """Share of the sprite's cells recovered within ΔE2000 ``threshold``, at the best whole-
    cell alignment of the sprite inside the recovered cells (its margin is background).
    ``near`` = (row, column) limits the search to two cells around where it should be."""
    from pixelnb.color import delta_e2000, rgb_to_lab

    h, w = sprite.shape[:2]
    lab_sprite = rgb_to_lab(sprite)
    lab_cells = rgb_to_lab(cells)
    best = 0.0
    rows = range(-2, cells.shape[0] - h + 3) if near is None else range(near[0] - 2, near[0] + 3)
    cols = range(-2, cells.shape[1] - w + 3) if near is None else range(near[1] - 2, near[1] + 3)
    for dy in rows:
        for dx in cols:
            y0, x0 = max(dy, 0), max(dx, 0)
            y1, x1 = min(dy + h, cells.shape[0]), min(dx + w, cells.shape[1])
            if y1 - y0 < h * 0.8 or x1 - x0 < w * 0.8:
                continue
            de = delta_e2000(lab_cells[y0:y1, x0:x1], lab_sprite[y0 - dy : y1 - dy, x0 - dx : x1 - dx])
            best = max(best, float((de <= threshold).sum()) / (h * w))
    return best


# -- whole scenes --------------------------------------------------------------------------
BACKGROUNDS = ("flat", "gradient", "textured")


@dataclass(frozen=True)
class Scene:
    """A made "AI pixel art" clip with its truth.

    ``frames`` (T, H, W, 3) are what a video model would paint; ``cells`` (T, rows, cols,
    3) the intended pixel art on its lattice (no noise); ``mask`` (T, rows, cols) marks the
    sprite cells; ``pitch`` the mean cell width; :meth:`to_lattice` maps frame pixels to
    lattice coordinates (cells, fractional) for frame ``t``.
    """

    frames: NDArray[np.uint8]
    cells: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    pitch: float
    lines_x: NDArray[np.float64]
    lines_y: NDArray[np.float64]
    params: dict[str, Any]

    def to_lattice(
        self, t: int, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """The lattice cell (column, row) under frame points (x, y) of frame ``t``."""
        lx, ly = _unwarp(self.params, t, x, y, self.frames.shape[2], self.frames.shape[1])
        u = np.searchsorted(self.lines_x, lx, side="right") - 1
        v = np.searchsorted(self.lines_y, ly, side="right") - 1
        return u, v


def _unwarp(
    p: dict[str, Any], t: int, x: NDArray[np.float64], y: NDArray[np.float64], w: int, h: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Frame pixel -> lattice plane (pixels): undo rotation and zoom about the centre, then
    the slow warp of the lines."""
    cx, cy = w / 2, h / 2
    th = math.radians(p["angle"])
    s = 1.0 + p["zoom"] * t / p["fps"]  # zoom drift, a fraction per second
    xr = (math.cos(th) * (x - cx) + math.sin(th) * (y - cy)) / s + cx
    yr = (-math.sin(th) * (x - cx) + math.cos(th) * (y - cy)) / s + cy
    if p["warp"]:
        xr = xr + p["warp"] * np.sin(2 * np.pi * yr / (h * 0.9) + p["warp_phase"])
        yr = yr + p["warp"] * np.sin(2 * np.pi * xr / (w * 1.1) + 1.0 + p["warp_phase"])
    return xr + p["margin_px"], yr + p["margin_px"]


def _lines(n: int, pitch: float, jitter: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Cell boundaries, each placed on its own: the regular comb moved by up to ±jitter of
    a cell (so a cell is up to 2·jitter wider or narrower than the pitch)."""
    base = np.arange(n + 1) * pitch
    out: NDArray[np.float64] = base + rng.uniform(-jitter, jitter, n + 1) * pitch
    return np.sort(out)


def _background(kind: str, rows: int, cols: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    sky = np.array(rng.integers(60, 200, 3), np.float64)
    out = np.empty((rows, cols, 3), np.uint8)
    if kind == "flat":
        out[:] = sky
    elif kind == "gradient":  # banded, as pixel art draws a sky: one colour per few rows
        top, bottom = sky, np.array(rng.integers(10, 120, 3), np.float64)
        bands = np.floor(np.linspace(0, 6, rows, endpoint=False)) / 5
        out[:] = (top[None, :] * (1 - bands[:, None]) + bottom[None, :] * bands[:, None]).round()[:, None, :]
    else:  # a flat sky over a textured ground: cells of four shades
        out[:] = sky
        ground = int(rows * rng.uniform(0.45, 0.7))
        shades = np.array(rng.integers(30, 160, (4, 3)), np.uint8)
        out[ground:] = shades[rng.integers(0, 4, (rows - ground, cols))]
    return out


def scene(
    sprite_frames: list[NDArray[np.uint8]],
    *,
    size: tuple[int, int] = (1280, 720),
    pitch: float = 9.7,
    coverage: float = 0.05,
    background: str = "textured",
    jitter: float = 0.08,
    warp: float = 0.0,
    zoom: float = 0.0,
    angle: float = 0.0,
    cell_noise: float = 0.0,
    blur: float = 0.7,
    grain: float = 3.0,
    n_frames: int = 12,
    fps: float = 12.0,
    seed: int = 0,
) -> Scene:
    """A whole scene of pixel art as a video model paints it, from RGBA sprite frames.

    The sprite (copies of it, for coverage above one sprite) covers ``coverage`` of the
    frame over a ``background`` ("flat", "gradient" or "textured"); every cell boundary is
    placed on its own (``jitter``: ±fraction of a cell), the lines ``warp`` slowly (pixels),
    the picture zooms by ``zoom`` per second and is rotated by ``angle`` degrees; each cell
    gets colour noise (``cell_noise``, RGB std), then the frame is blurred and grainy.
    """
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    w, h = size
    margin = 3  # lattice cells beyond each frame edge (rotation, zoom and warp reach them)
    cols = math.ceil(w / pitch) + 2 * margin + 1
    rows = math.ceil(h / pitch) + 2 * margin + 1
    lines_x = _lines(cols, pitch, jitter, rng)
    lines_y = _lines(rows, pitch, jitter, rng)
    base = _background(background, rows, cols, rng)
    sh, sw = sprite_frames[0].shape[:2]
    inner = (rows - 2 * margin) * (cols - 2 * margin)
    copies = max(1, round(coverage * inner / (sh * sw)))
    # Where the copies stand (the top-left cell of each), inside the visible lattice.
    if coverage >= 0.95:  # the whole frame: tile it
        spots = [
            (r, c)
            for r in range(margin - sh // 2, rows - margin, sh)
            for c in range(margin - sw // 2, cols - margin, sw)
        ]
    else:
        spots = [
            (
                int(rng.integers(margin, max(margin + 1, rows - margin - sh))),
                int(rng.integers(margin, max(margin + 1, cols - margin - sw))),
            )
            for _ in range(copies)
        ]
    cells = np.empty((n_frames, rows, cols, 3), np.uint8)
    mask = np.zeros((n_frames, rows, cols), bool)
    noise = rng.normal(0, cell_noise, (rows, cols, 3)) if cell_noise else None
    params = {
        "angle": angle,
        "zoom": zoom,
        "fps": fps,
        "warp": warp,
        "warp_phase": float(rng.uniform(0, 6.28)),
        "margin_px": float(lines_x[margin] if margin < len(lines_x) else 0.0),
        "size": size,
        "pitch": pitch,
        "coverage": coverage,
        "background": background,
        "jitter": jitter,
        "cell_noise": cell_noise,
        "blur": blur,
        "grain": grain,
        "seed": seed,
    }
    params["margin_px"] = margin * pitch
    frames = np.empty((n_frames, h, w, 3), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    for t in range(n_frames):
        lattice = base.copy()
        spr = sprite_frames[t % len(sprite_frames)]
        for r, c in spots:
            r0, c0 = max(r, 0), max(c, 0)
            r1, c1 = min(r + sh, rows), min(c + sw, cols)
            if r1 <= r0 or c1 <= c0:
                continue
            part = spr[r0 - r : r1 - r, c0 - c : c1 - c]
            a = part[..., 3:4].astype(np.float64) / 255
            lattice[r0:r1, c0:c1] = (
                (part[..., :3] * a + lattice[r0:r1, c0:c1] * (1 - a)).round().astype(np.uint8)
            )
            mask[t, r0:r1, c0:c1] |= part[..., 3] > 127
        cells[t] = lattice
        painted = lattice.astype(np.float64) + (noise if noise is not None else 0.0)
        painted = painted.clip(0, 255).astype(np.uint8)
        lx, ly = _unwarp(params, t, xx, yy, w, h)
        u = (np.searchsorted(lines_x, lx, side="right") - 1).clip(0, cols - 1)
        v = (np.searchsorted(lines_y, ly, side="right") - 1).clip(0, rows - 1)
        frame = painted[v, u]
        if blur:
            frame = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(blur)))
        if grain:
            frame = np.clip(frame + rng.normal(0, grain, frame.shape), 0, 255).astype(np.uint8)
        frames[t] = frame
    return Scene(frames, cells, mask, pitch, lines_x, lines_y, params)


def scene_score(
    scene: Scene,
    t: int,
    centres_x: NDArray[np.float64],
    centres_y: NDArray[np.float64],
    colours: NDArray[np.uint8],
    threshold: float = 5.0,
) -> float:
    """Share of frame ``t``'s visible sprite cells recovered: the cell gets exactly one
    recovered cell (centres in frame pixels, any shape) whose colour is within ΔE2000
    ``threshold`` of the intended one. A grid of the wrong pitch fails it: a coarse grid
    leaves cells without one, a fine grid gives cells several."""
    from pixelnb.color import delta_e2000, rgb_to_lab

    h, w = scene.frames.shape[1:3]
    u, v = scene.to_lattice(t, centres_x.ravel(), centres_y.ravel())
    rows, cols = scene.cells.shape[1:3]
    ok = (u >= 0) & (u < cols) & (v >= 0) & (v < rows)
    u, v, col = u[ok], v[ok], colours.reshape(-1, 3)[ok]
    flat = v * cols + u
    hits = np.bincount(flat, minlength=rows * cols)
    de = delta_e2000(rgb_to_lab(col), rgb_to_lab(scene.cells[t][v, u]))
    good = np.zeros(rows * cols, bool)
    good[flat[(de <= threshold) & (hits[flat] == 1)]] = True
    # The sprite cells whose whole cell lies inside the frame.
    yy, xx = np.mgrid[0:rows, 0:cols]
    cx = (scene.lines_x[xx] + scene.lines_x[xx + 1]) / 2 - scene.params["margin_px"]
    cy = (scene.lines_y[yy] + scene.lines_y[yy + 1]) / 2 - scene.params["margin_px"]
    visible = (
        (cx > 2 * scene.pitch)
        & (cx < w - 2 * scene.pitch)
        & (cy > 2 * scene.pitch)
        & (cy < h - 2 * scene.pitch)
    )
    want = scene.mask[t] & visible
    if not want.any():
        return 1.0
    return float(good.reshape(rows, cols)[want].mean())


def true_cells(
    sc: Scene, t: int, frame: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.uint8]]:
    """The true grid's reading of a decoded frame, the ceiling of per-cell sampling: per
    lattice cell, the median of the pixels in its central third, and their mean position
    (x, y, colours), to score with :func:`scene_score`."""
    h, w = frame.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    lx, ly = _unwarp(sc.params, t, xx, yy, w, h)
    u = np.searchsorted(sc.lines_x, lx, side="right") - 1
    v = np.searchsorted(sc.lines_y, ly, side="right") - 1
    ok = (u >= 0) & (u < len(sc.lines_x) - 1) & (v >= 0) & (v < len(sc.lines_y) - 1)
    fu = (lx - sc.lines_x[u.clip(0, len(sc.lines_x) - 2)]) / np.diff(sc.lines_x)[
        u.clip(0, len(sc.lines_x) - 2)
    ]
    fv = (ly - sc.lines_y[v.clip(0, len(sc.lines_y) - 2)]) / np.diff(sc.lines_y)[
        v.clip(0, len(sc.lines_y) - 2)
    ]
    central = ok & (np.abs(fu - 0.5) < 1 / 6) & (np.abs(fv - 0.5) < 1 / 6)
    key = (v * (len(sc.lines_x) - 1) + u)[central]
    order = np.argsort(key, kind="stable")
    key, px = key[order], frame[central][order]
    cx, cy = xx[central][order], yy[central][order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    colours = np.array([np.median(px[a:b], axis=0) for a, b in zip(starts, ends, strict=True)]).round()
    mx = np.array([cx[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    my = np.array([cy[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    return mx, my, colours.astype(np.uint8)


def grid_score(scene: Scene, t: int, frame: NDArray[np.uint8], grid: Any) -> float:
    """:func:`scene_score` of a detected Grid on frame ``t``, in that frame's own layout
    (``grid.at(t)``: its pitch, phase, bends and lines)."""
    g = grid.at(t)
    px, py = g.centres(frame.shape[1], frame.shape[0])
    return scene_score(scene, t, px, py, g.frame_cells(frame))
