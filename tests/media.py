"""Helpers that make real H.264 test clips with PyAV."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def encode(
    path: Path,
    frames: np.ndarray | Callable[[int], np.ndarray],
    *,
    count: int | None = None,
    fps: int = 25,
    rotation: int = 0,
    pts: list[int] | None = None,
    crf: int = 18,
    faststart: bool = False,
) -> Path:
    """Encode RGB frames (an array or a function of the frame number) as H.264 in MP4."""
    n = len(frames) if count is None else count
    first = frames[0] if not callable(frames) else frames(0)
    h, w = first.shape[:2]
    opts = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf), "preset": "ultrafast"}
        tb = Fraction(1, fps * 100)
        s.time_base = tb
        if rotation:
            s.set_display_rotation(rotation)
        for i in range(n):
            arr = frames(i) if callable(frames) else frames[i]
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            f.pts = pts[i] if pts is not None else i * 100
            f.time_base = tb
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def moving_square(i: int, w: int = 96, h: int = 64) -> np.ndarray:
    """A frame with a gradient background and a red square that moves 2 px a frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 96)], axis=-1).astype(np.uint8)
    x = (i * 2) % (w - 16)
    img[20:36, x : x + 16] = (220, 30, 30)
    return img
