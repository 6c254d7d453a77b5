"""Transparent backgrounds: find what is background in sampled frames and key it out.

The matte is decided per output cell, from the frames at a finer working size (``factor``
subpixels a side per cell) in CIELAB:

1. A subpixel is background-like when its colour is near the background model: for
   ``background="auto"`` a smooth surface (a quadratic in x and y per channel, fitted
   robustly to the frame border over all frames, so a subject touching the border does
   not pull it) or one of the border's own recurring colours (a still texture); for a key
   colour, that colour. The tolerance grows with the border's noise.
2. A cell is background when most of its subpixels are, and it is connected to the frame
   border through background cells; an enclosed cell (the gap between legs) only when
   nearly all its subpixels match closely.
3. Clean-up in the pixel-art sense: an opaque cell with no opaque neighbour goes, a clear
   cell boxed in by opaque ones is filled, and a cell whose source colour barely moved
   since the last frame keeps its last state (no blinking while the source is still).
4. Each opaque cell's colour is the mean of its foreground subpixels only, so edge cells
   carry no tint of the background (no fringe).

:func:`parse_background` checks the option; :func:`find_matte` does the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import OptionError

__all__ = ["BACKGROUND_MODES", "Background", "Matte", "find_matte", "parse_background"]

BACKGROUND_MODES = ("keep", "auto")
Background = str | tuple[int, int, int]

# CIELAB units (ΔE76). A key colour takes everything within KEY_TOLERANCE of it (video
# compression moves a flat green by 5-15 units); "auto" uses AUTO_TOLERANCE or three times
# the border's own spread, whichever is larger, at most MAX_TOLERANCE.
KEY_TOLERANCE = 18.0
AUTO_TOLERANCE = 10.0
MAX_TOLERANCE = 30.0
STILL = 3.0  # a cell whose colour moved less than this since the last frame keeps its state
BAND = 1.25  # the matte's hysteresis band, a factor on the tolerance
MAJORITY = 0.5  # share of background subpixels that makes a connected cell background
ENCLOSED = 0.9  # ... and an enclosed one, whose subpixels must also match within half the tolerance


def parse_background(value: object) -> Background:
    """``"keep"``, ``"auto"``, or an (r, g, b) tuple from a colour (``"#00ff00"``, ``"lime"``,
    ``(0, 255, 0)``).

    >>> parse_background("#0f0"), parse_background([0, 255, 0]), parse_background("auto")
    ((0, 255, 0), (0, 255, 0), 'auto')
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in BACKGROUND_MODES:
            return text
        from PIL import ImageColor

        try:
            rgb = ImageColor.getrgb(text)
        except ValueError:
            rgb = None
        if rgb is not None:
            return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
    elif isinstance(value, (tuple, list)) and len(value) == 3 and all(_channel(c) for c in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise OptionError(
        f"background must be 'keep', 'auto', or a colour such as '#00ff00' or (0, 255, 0), not {value!r}"
    )


def _channel(c: object) -> bool:
    return isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= int(c) <= 255


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """``(0, 255, 0)`` as ``"#00ff00"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Matte:
    """Which cells are opaque, and their colours with the background left out.

    ``opaque`` (T, h, w) bool; ``cells`` (T, h, w, 3) CIELAB, each opaque cell the mean of
    its foreground subpixels; ``backdrop`` the background's typical colour (sRGB), used as
    the transparent index's colour where a format has no alpha; ``info`` what was found;
    ``background_px`` (T, h·factor, w·factor) the background-like subpixels.
    """

    opaque: NDArray[np.bool_]
    cells: NDArray[np.float32]
    backdrop: tuple[int, int, int]
    info: dict[str, Any]
    background_px: NDArray[np.bool_]


def find_matte(values: NDArray[np.float32], factor: int, background: Background) -> Matte:
    """The matte of frames ``values`` (T, h·factor, w·factor, 3) in CIELAB, per cell."""
    from pixelnb.color import from_space, to_space

    t, hh, ww, _ = values.shape
    h, w = hh // factor, ww // factor
    if background == "auto":
        model, tol, spread = _border_model(values, factor)
        dist = model(values)
        info: dict[str, Any] = {"background": "auto", "tolerance": round(tol, 1), "border_spread": spread}
    elif isinstance(background, tuple):
        key = to_space(np.array([background], np.uint8), "lab")[0]
        dist = np.sqrt(((values - key) ** 2).sum(axis=-1))
        tol = KEY_TOLERANCE
        info = {"background": hex_colour(background), "tolerance": tol}
    else:
        raise OptionError(f"find_matte needs 'auto' or a colour, not {background!r}")
    near = dist <= tol
    blocks = (t, h, factor, w, factor)

    def share(limit: float) -> NDArray[np.floating[Any]]:
        out: NDArray[np.floating[Any]] = (dist <= limit).reshape(blocks).mean(axis=(2, 4))
        return out

    close = share(tol / 2)
    first = _connected_to_border(share(tol) >= MAJORITY)
    # Hysteresis against noise near the tolerance: a cell clear in the last frame stays a
    # candidate up to BAND times the tolerance; one that was opaque needs to come within
    # the tolerance divided by BAND.
    was_clear = np.concatenate([first[:1], first[:-1]])
    candidate = (share(tol / BAND) >= MAJORITY) | ((share(tol * BAND) >= MAJORITY) & was_clear)
    clear = _connected_to_border(candidate) | (close >= ENCLOSED)
    mean = values.reshape(*blocks, 3).mean(axis=(2, 4))
    clear = _steady(clear, mean)
    opaque = _tidy(~clear, close >= ENCLOSED)
    # Opaque cells take the mean of their foreground subpixels; all of them when none is.
    fg = (~near).reshape(*blocks, 1)
    count = fg.sum(axis=(2, 4))
    fg_mean = (values.reshape(*blocks, 3) * fg).sum(axis=(2, 4)) / np.maximum(count, 1)
    cells = np.where(count > 0, fg_mean, mean).astype(np.float32)
    bg_pixels = values[near] if near.any() else values.reshape(-1, 3)
    backdrop = from_space(np.median(bg_pixels.reshape(-1, 3), axis=0)[None], "lab")[0]
    info["opaque_share"] = round(float(opaque.mean()), 4)
    return Matte(opaque, cells, (int(backdrop[0]), int(backdrop[1]), int(backdrop[2])), info, near)


def _border_model(values: NDArray[np.float32], factor: int) -> tuple[Any, float, float]:
    """The background model from the frame border over all frames: a distance function,
    its tolerance, and the border's spread (robust, ΔE76)."""
    t, hh, ww, _ = values.shape
    ring = max(1, factor)
    edge = np.zeros((hh, ww), bool)
    edge[:ring], edge[-ring:], edge[:, :ring], edge[:, -ring:] = True, True, True, True
    # One quadratic surface per channel: the features of every pixel, read at the border.
    gy, gx = np.mgrid[0:hh, 0:ww] / np.array([max(hh - 1, 1), max(ww - 1, 1)])[:, None, None] - 0.5
    feats = np.stack([np.ones_like(gx), gx, gy, gx * gx, gx * gy, gy * gy], axis=-1)  # (hh, ww, 6)
    ys, xs = np.nonzero(edge)
    pts = values[:, ys, xs].reshape(-1, 3).astype(np.float64)
    design = np.tile(feats[ys, xs], (t, 1))
    keep = np.ones(len(pts), bool)
    coef = np.zeros((6, 3))
    for _ in range(4):  # trimmed least squares: a subject on the border does not pull the fit
        coef = np.linalg.lstsq(design[keep], pts[keep], rcond=None)[0]
        resid = np.sqrt(((design @ coef - pts) ** 2).sum(axis=1))
        keep = resid <= max(np.quantile(resid, 0.7) * 2.0, 2.0)
    spread = float(np.quantile(resid[keep], 0.9)) if keep.any() else 0.0
    # The border's recurring colours that the surface misses (a still texture): the
    # centres of the remaining border pixels that are common enough to be background.
    rest = pts[~keep]
    texture = _common_colours(rest, len(pts)) if len(rest) else np.zeros((0, 3))
    tol = float(min(MAX_TOLERANCE, max(AUTO_TOLERANCE, 3.0 * spread)))
    surface = (feats @ coef).astype(np.float32)  # (hh, ww, 3)

    def distance(v: NDArray[np.float32]) -> NDArray[np.float32]:
        d: NDArray[np.float32] = np.sqrt(((v - surface) ** 2).sum(axis=-1))
        for c in texture.astype(np.float32):
            d = np.minimum(d, np.sqrt(((v - c) ** 2).sum(axis=-1)))
        return d

    return distance, tol, round(spread, 2)


def _common_colours(points: NDArray[np.float64], total: int, k: int = 8) -> NDArray[np.float64]:
    """Colour centres (k-means) of ``points`` that each hold at least 3 % of ``total``."""
    from pixelnb.palette import fit_palette

    centres = fit_palette(points.astype(np.float32), min(k, len(points)))
    d = ((points[:, None, :] - centres[None].astype(np.float64)) ** 2).sum(-1)
    counts = np.bincount(d.argmin(axis=1), minlength=len(centres))
    out: NDArray[np.float64] = centres[counts >= 0.03 * total].astype(np.float64)
    return out


def _connected_to_border(candidate: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The candidate cells of each frame (T, h, w) reachable from the border through
    candidate cells (4-connected): a flood fill as repeated dilation, all frames at once."""
    seen = np.zeros_like(candidate)
    seen[:, 0], seen[:, -1], seen[:, :, 0], seen[:, :, -1] = (
        candidate[:, 0],
        candidate[:, -1],
        candidate[:, :, 0],
        candidate[:, :, -1],
    )
    while True:
        grown = seen.copy()
        grown[:, 1:] |= seen[:, :-1]
        grown[:, :-1] |= seen[:, 1:]
        grown[:, :, 1:] |= seen[:, :, :-1]
        grown[:, :, :-1] |= seen[:, :, 1:]
        grown &= candidate
        if np.array_equal(grown, seen):
            return seen
        seen = grown


def _steady(clear: NDArray[np.bool_], cells: NDArray[np.float32]) -> NDArray[np.bool_]:
    """A cell whose colour moved less than STILL since the last frame keeps its state."""
    out: NDArray[np.bool_] = clear.copy()
    moved = np.sqrt(((cells[1:] - cells[:-1]) ** 2).sum(axis=-1)) >= STILL
    for i in range(1, len(out)):
        out[i] = np.where(moved[i - 1], clear[i], out[i - 1])
    return out


def _neighbours(mask: NDArray[np.bool_]) -> NDArray[np.intp]:
    """How many of each cell's eight neighbours are set, per frame (T, h, w)."""
    t, h, w = mask.shape
    padded = np.zeros((t, h + 2, w + 2), np.intp)
    padded[:, 1:-1, 1:-1] = mask
    count = np.zeros((t, h, w), np.intp)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                count += padded[:, dy : dy + h, dx : dx + w]
    return count


def _tidy(opaque: NDArray[np.bool_], surely_clear: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """No specks: an opaque cell with no opaque neighbour goes; a clear cell with seven or
    eight opaque neighbours is filled unless it matches the background closely."""
    near = _neighbours(opaque)
    out: NDArray[np.bool_] = opaque & (near > 0)
    out |= ~opaque & (near >= 7) & ~surely_clear
    return out
