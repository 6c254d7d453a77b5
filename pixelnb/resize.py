"""Downscaling frames to the pixel grid: area averaging, nearest neighbour and block mode.

``area`` and ``nearest`` resample whole frames (Pillow's exact box filter and nearest
filter). ``mode`` needs palette indices: it keeps the most common index of each block, so
thin dark outlines and flat fills survive where averaging would blur them into new colours.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["DOWNSCALES", "MODE_FACTOR", "block_mode", "resize_frames"]

DOWNSCALES = ("area", "nearest", "mode")
MODE_FACTOR = 4  # the mode downscale votes among up to 4x4 source samples per cell


def resize_frames(frames: NDArray[np.uint8], size: tuple[int, int], method: str) -> NDArray[np.uint8]:
    """Resize frames (T, H, W, 3) to ``size`` = (w, h) with ``"area"`` or ``"nearest"``."""
    from PIL import Image

    w, h = size
    if frames.shape[2] == w and frames.shape[1] == h:
        return frames
    resample = Image.Resampling.BOX if method == "area" else Image.Resampling.NEAREST
    out = np.empty((frames.shape[0], h, w, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):
        out[t] = np.asarray(Image.fromarray(frame, "RGB").resize((w, h), resample))
    return out


def block_mode(
    indices: NDArray[np.uint8], factor: int, k: int = 256, skip: int | None = None
) -> NDArray[np.intp]:
    """Most common value of each ``factor``×``factor`` block of (T, H, W) indices below ``k``.

    Ties go to the lower index. H and W must be multiples of ``factor``. The value ``skip``
    (background subpixels) gets no vote; a block of nothing else gets index 0.
    """
    t, hh, ww = indices.shape
    h, w = hh // factor, ww // factor
    out = np.empty((t, h, w), dtype=np.intp)
    block_id = (np.arange(h)[:, None, None, None] * w + np.arange(w)[None, None, :, None]) * k
    block_id = np.broadcast_to(block_id, (h, factor, w, factor))
    for i in range(t):  # one frame at a time keeps the count table small
        counts = np.bincount(
            (block_id + indices[i].reshape(h, factor, w, factor)).ravel(), minlength=h * w * k
        )
        table = counts.reshape(h, w, k)
        if skip is not None:
            table[..., skip] = 0
        out[i] = table.argmax(axis=-1)
    return out
