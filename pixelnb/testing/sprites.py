"""Made clips of pixel-art sprites over known backdrops: the matte's and loops' test data.

:func:`sprite_clip` plays an RGBA sprite animation (say the four frames of a run cycle)
in place, each sprite frame held for ``hold`` video frames, over a solid, noisy, gradient
or textured backdrop, and renders it the way a video model paints "pixel art": cells of a
non-integer size, a sub-cell offset, soft edges and grain. It returns the frames with
their truth: which cells the sprite covers in every frame, and how long one cycle is.
:func:`drifting_clip` is the opposite case for loops: a sprite that walks across the frame
and never comes back to where it started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["BACKDROPS", "SpriteClip", "drifting_clip", "load_sprite", "mask_scores", "sprite_clip"]

BACKDROPS = ("solid", "noisy", "gradient", "textured")


@dataclass(frozen=True)
class SpriteClip:
    """``frames`` (T, H, W, 3) as a video model would paint them; ``alpha`` (T, rows, cols)
    the cells the sprite covers on the lattice of ``cells`` = (cols, rows); ``cycle`` video
    frames per animation cycle (0: it never repeats); ``backdrop`` the backdrop's main colour."""

    frames: NDArray[np.uint8]
    alpha: NDArray[np.bool_]
    cells: tuple[int, int]
    cycle: int
    backdrop: tuple[int, int, int]
    params: dict[str, Any] = field(default_factory=dict)


def load_sprite(folder: str | Path) -> list[NDArray[np.uint8]]:
    """The frames (h, w, 4) of a sprite stored as numbered RGBA PNGs in ``folder``."""
    from PIL import Image

    files = sorted(Path(folder).glob("*.png"))
    return [np.asarray(Image.open(f).convert("RGBA")) for f in files]


def _backdrop(
    kind: str, rows: int, cols: int, scale: float, out: tuple[int, int], rng: np.random.Generator
) -> tuple[NDArray[np.float64], tuple[int, int, int]]:
    """The backdrop at pixel level (H, W, 3) and its main colour."""
    hh, ww = out
    base = np.array(rng.integers(40, 215, 3), np.float64)
    img = np.empty((hh, ww, 3))
    img[:] = base
    if kind == "gradient":
        other = np.clip(base + rng.uniform(-70, 70, 3), 0, 255)
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:hh, 0:ww]
        ramp = (np.cos(angle) * xx / ww + np.sin(angle) * yy / hh + 1) / 2
        img = base[None, None] * (1 - ramp[..., None]) + other[None, None] * ramp[..., None]
    elif kind == "textured":  # still cells of a few shades near the base, pixel-art grass or stone
        shades = np.clip(base[None] + rng.uniform(-22, 22, (4, 3)), 0, 255)
        tiles = shades[rng.integers(0, 4, (rows, cols))]
        v = np.minimum((np.arange(hh) / scale).astype(int), rows - 1)
        u = np.minimum((np.arange(ww) / scale).astype(int), cols - 1)
        img = tiles[v[:, None], u[None, :]]
    return img, (int(base[0]), int(base[1]), int(base[2]))


def sprite_clip(
    sprite: list[NDArray[np.uint8]],
    backdrop: str,
    *,
    scale: float = 6.0,
    margin: int = 4,
    hold: int = 3,
    repeats: float = 2.5,
    grain: float = 3.0,
    noise: float = 8.0,
    blur: float = 0.6,
    seed: int = 0,
    drift: float = 0.0,
) -> SpriteClip:
    """Play ``sprite`` (RGBA frames with a 0/255 alpha) in place over ``backdrop``.

    ``scale`` is the cell size in pixels, ``margin`` the cells of backdrop around the
    sprite, ``hold`` the video frames per sprite frame, ``repeats`` how many cycles play,
    ``grain`` the noise on every pixel, ``noise`` the extra noise of the "noisy" backdrop,
    ``blur`` a Gaussian sigma (soft edges), ``drift`` cells the sprite moves right per frame.
    """
    from PIL import Image, ImageFilter

    if backdrop not in BACKDROPS:
        raise ValueError(f"backdrop must be one of {BACKDROPS}")
    rng = np.random.default_rng(seed)
    sh, sw = sprite[0].shape[:2]
    cycle = len(sprite) * hold
    count = max(1, round(cycle * repeats))
    rows = sh + 2 * margin
    cols = sw + 2 * margin + (math.ceil(drift * count) if drift else 0)
    hh, ww = math.ceil(rows * scale) // 2 * 2, math.ceil(cols * scale) // 2 * 2
    off = rng.uniform(0, scale, 2) if scale > 1 else np.zeros(2)
    back, main = _backdrop(backdrop, rows, cols, scale, (hh, ww), rng)
    yy, xx = np.mgrid[0:hh, 0:ww]
    frames = np.empty((count, hh, ww, 3), np.uint8)
    alpha = np.zeros((count, rows, cols), bool)
    for i in range(count):
        rgba = sprite[(i // hold) % len(sprite)]
        x0 = margin + int(drift * i)
        alpha[i, margin : margin + sh, x0 : x0 + sw] = rgba[..., 3] > 127
        # Frame pixel -> lattice cell, with the sub-cell offset a video model never gets right.
        v = np.floor((yy - off[1]) / scale).astype(int) - margin
        u = np.floor((xx - off[0]) / scale).astype(int) - x0
        inside = (v >= 0) & (v < sh) & (u >= 0) & (u < sw)
        px = np.zeros((hh, ww, 4), np.uint8)
        px[inside] = rgba[v[inside], u[inside]]
        on = px[..., 3] > 127
        img = np.where(on[..., None], px[..., :3].astype(np.float64), back)
        if blur:
            img = np.asarray(
                Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur)),
                np.float64,
            )
        back_sigma = grain + (noise if backdrop == "noisy" else 0.0)
        img = img + rng.normal(0.0, 1.0, img.shape) * np.where(on, grain, back_sigma)[..., None]
        frames[i] = np.clip(img, 0, 255).astype(np.uint8)
    params = {"backdrop": backdrop, "scale": scale, "offset": off.tolist(), "hold": hold, "seed": seed}
    return SpriteClip(frames, alpha, (cols, rows), 0 if drift else cycle, main, params)


def drifting_clip(sprite: list[NDArray[np.uint8]], backdrop: str = "solid", **kw: Any) -> SpriteClip:
    """The sprite cycling its frames while it walks right a third of a cell each frame:
    no stretch of it ever returns to its start."""
    return sprite_clip(sprite, backdrop, drift=kw.pop("drift", 0.34), **kw)


def mask_scores(found: NDArray[np.bool_], truth: NDArray[np.bool_], shift: int = 1) -> dict[str, float]:
    """IoU of a found opaque mask with the truth (T, rows, cols), at the best whole-cell
    shift within ``shift`` (the lattice offset), with the wrong-opaque and wrong-clear
    shares (of the truth's opaque cells) and the mask flicker (cells that change between
    frames where the truth does not)."""
    t = min(len(found), len(truth))
    found, truth = found[:t], truth[:t]
    best: dict[str, float] = {"iou": -1.0}
    aligned = found
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            moved = np.roll(found, (dy, dx), axis=(1, 2))
            inter = float((moved & truth).sum())
            union = float((moved | truth).sum())
            iou = inter / union if union else 1.0
            if iou > best["iou"]:
                aligned = moved
                total = max(float(truth.sum()), 1.0)
                best = {
                    "iou": iou,
                    "wrong_opaque": float((moved & ~truth).sum()) / total,
                    "wrong_clear": float((~moved & truth).sum()) / total,
                }
    same = truth[1:] == truth[:-1]
    changed = aligned[1:] != aligned[:-1]
    best["flicker"] = float(changed[same].mean()) if same.any() else 0.0
    return best
