"""Make "AI pixel art" test frames from real sprites: the grid recovery's test data.

:func:`degrade` scales a sprite by a non-integer factor with a sub-cell offset and a
slight rotation, optionally bends and drifts the grid lines, blurs the edges and adds
grain, the way a video model's "pixel art" looks. Tests and benchmarks then encode the
frames as H.264 and score the recovered cells against the sprite's own pixels.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["cell_score", "composite", "degrade"]


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
