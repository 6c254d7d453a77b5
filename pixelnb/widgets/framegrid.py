"""A frame grid (contact sheet) that fills in live as frames are produced.

Frame protocol (after jupyter_rfb): frames are thumbnails, shrunk to ``thumb`` pixels on
their longest side before they leave the kernel, so a 1080p source never enters widget
state. :meth:`FrameGrid.append` sends only the new frames, as a custom message with one
binary buffer, and counts them in ``n_frames``: traffic grows linearly with the frames,
not with their square. The ``rgb`` trait (uint8, frames × height × width × 3) holds the
whole set only when it is final — :meth:`set`, or :meth:`finish` after a live fill — so a
saved notebook keeps one compact copy. The browser draws each frame once, as a small canvas
scaled with crisp pixels.
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
THUMB = 96  # pixels on a grid frame's longest side: pixel art fits, video becomes a thumbnail


class FrameGrid(FallbackMixin, anywidget.AnyWidget):
    """Frames of a Sprite, a Clip or RGB arrays, laid out in a grid.

    >>> import numpy as np
    >>> g = FrameGrid(title="live")
    >>> g.append(np.zeros((2, 4, 6, 3), np.uint8))
    >>> g.append(np.zeros((4, 6, 3), np.uint8))
    >>> g.n_frames, g.width, g.height, len(g.rgb)
    (3, 6, 4, 0)
    >>> g.finish()
    >>> len(g.rgb)
    216
    >>> big = FrameGrid(np.zeros((2, 720, 1280, 3), np.uint8))
    >>> big.width, big.height
    (96, 54)
    """

    _esm = _HERE / "framegrid.js"
    _css = _HERE / "player.css"

    rgb = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    n_frames = traitlets.Int(0).tag(sync=True)
    zoom = traitlets.Int(2).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        frames: Sprite | Clip | NDArray[np.uint8] | None = None,
        *,
        thumb: int | None = THUMB,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.thumb = thumb  # longest side of a frame in the grid (None: as given)
        self.sprite: Sprite | None = frames if isinstance(frames, Sprite) else None
        self._pending: list[bytes] = []  # frames sent live, not yet in ``rgb``
        if frames is not None:
            self.set(frames)

    def clear(self) -> None:
        self._pending = []
        with self.hold_sync():
            self.rgb, self.n_frames = b"", 0
        self.send({"type": "clear"})

    def finish(self) -> None:
        """Put the frames sent live into ``rgb``: the one compact copy a saved notebook keeps."""
        if self._pending:
            self.rgb = self.rgb + b"".join(self._pending)
            self._pending = []

    def set(self, frames: Sprite | Clip | NDArray[np.uint8]) -> None:
        """Replace the frames."""
        self.sprite = frames if isinstance(frames, Sprite) else None
        self.clear()
        self.append(frames)
        self.finish()
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
        arr = self._thumbnails(np.ascontiguousarray(arr, dtype=np.uint8))
        _, h, w, _ = arr.shape
        if self.n_frames and (w, h) != (self.width, self.height):
            raise OptionError(f"frames of {w}x{h} cannot join a grid of {self.width}x{self.height}")
        with self.hold_sync():
            self.width, self.height = w, h
            if "zoom" not in self._trait_values or self.zoom * max(w, h) < 48:
                self.zoom = max(1, 96 // max(w, h))
            self.n_frames += arr.shape[0]
        data = arr.tobytes()
        self._pending.append(data)
        self.send({"type": "append", "count": int(arr.shape[0]), "width": w, "height": h}, [data])

    def _thumbnails(self, arr: NDArray[np.uint8]) -> NDArray[np.uint8]:
        _, h, w, _ = arr.shape
        if self.thumb is None or max(w, h) <= self.thumb:
            return arr
        from pixelnb.resize import resize_frames
        from pixelnb.video import fit_size

        return resize_frames(arr, fit_size(w, h, self.thumb), "area")
