"""A frame grid (contact sheet) that fills in live as frames are produced.

Frame protocol: ``rgb`` holds the frames so far as one binary buffer (uint8, frames ×
height × width × 3); :meth:`FrameGrid.append` adds to it and the browser draws only the
new frames, each as a small canvas scaled with crisp pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from numpy.typing import NDArray

from pixelnb.errors import OptionError
from pixelnb.sprite import Sprite
from pixelnb.video import Clip
from pixelnb.widgets._fallback import FallbackMixin

__all__ = ["FrameGrid"]

_HERE = Path(__file__).parent


class FrameGrid(FallbackMixin, anywidget.AnyWidget):
    """Frames of a Sprite, a Clip or RGB arrays, laid out in a grid.

    >>> import numpy as np
    >>> g = FrameGrid(title="live")
    >>> g.append(np.zeros((2, 4, 6, 3), np.uint8))
    >>> g.append(np.zeros((4, 6, 3), np.uint8))
    >>> g.n_frames, g.width, g.height, len(g.rgb)
    (3, 6, 4, 216)
    """

    _esm = _HERE / "framegrid.js"
    _css = _HERE / "player.css"

    rgb = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    n_frames = traitlets.Int(0).tag(sync=True)
    zoom = traitlets.Int(2).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, frames: Sprite | Clip | NDArray[np.uint8] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sprite: Sprite | None = frames if isinstance(frames, Sprite) else None
        if frames is not None:
            self.set(frames)

    def clear(self) -> None:
        with self.hold_sync():
            self.rgb, self.n_frames = b"", 0

    def set(self, frames: Sprite | Clip | NDArray[np.uint8]) -> None:
        """Replace the frames."""
        self.sprite = frames if isinstance(frames, Sprite) else None
        self.clear()
        self.append(frames)
        self._refresh_fallback()

    def append(self, frames: Sprite | Clip | NDArray[np.uint8]) -> None:
        """Add one frame (h, w, 3) or several (T, h, w, 3) to the end of the grid."""
        if isinstance(frames, Sprite):
            arr = frames.to_rgb()
        elif isinstance(frames, Clip):
            arr = frames.frames
        else:
            arr = np.asarray(frames)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise OptionError(f"frames must be (T, h, w, 3) RGB, got shape {arr.shape}")
        _, h, w, _ = arr.shape
        if self.n_frames and (w, h) != (self.width, self.height):
            raise OptionError(f"frames of {w}x{h} cannot join a grid of {self.width}x{self.height}")
        with self.hold_sync():
            self.width, self.height = w, h
            if "zoom" not in self._trait_values or self.zoom * max(w, h) < 48:
                self.zoom = max(1, 96 // max(w, h))
            self.rgb = self.rgb + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
            self.n_frames += arr.shape[0]
