"""A frame grid (contact sheet) that fills in live as frames are produced, or plays them.

Frame protocol (after jupyter_rfb): live frames are thumbnails, shrunk to ``thumb``
pixels on their longest side before they leave the kernel, and travel as custom messages
``{type: "append", count, width, height}`` with one binary buffer of RGB bytes (and
``{type: "clear"}``): traffic grows linearly with the frames, and nothing live is widget
state. The state holds the final set once, compactly, in ``data``:

- ``encoding="indexed"`` (a Sprite): zlib-deflated palette indices plus ``palette``, as
  the Player holds them — pixel art deflates about tenfold;
- ``encoding="jpeg"`` (video thumbnails): one JPEG sheet (4:4:4) of ``columns`` frames
  per row, each in a cell rounded up to 8 pixels so that no JPEG block mixes two frames.
  Photographic thumbnails quantized to 256 colours deflate to three times the JPEG's size
  (525 kB against 179 kB for the 14 s cockatoo clip at 96 px), so video travels as video
  does on the web.

``view="grid"`` lays the frames out; ``view="play"`` shows one at a time at ``fps`` in a
box ``display_width`` pixels wide (the newest while frames arrive), so a source can play
beside its pixel art at the same size.
"""

from __future__ import annotations

import io
import math
import time
import zlib
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
SEND_INTERVAL = 0.05  # seconds: live frames go out in batches at most this often
JPEG_QUALITY = 80
_MAX_SHEET_SIDE = 16_000  # well inside JPEG's 65,535 and every browser's canvas limits


def _cell(side: int) -> int:
    """A JPEG sheet's cell side: the frame's, rounded up to JPEG's 8-pixel blocks."""
    return -(-side // 8) * 8


class FrameGrid(FallbackMixin, anywidget.AnyWidget):
    """Frames of a Sprite, a Clip or RGB arrays, laid out in a grid (or played).

    >>> import numpy as np
    >>> g = FrameGrid(title="live")
    >>> g.append(np.zeros((2, 4, 6, 3), np.uint8))
    >>> g.append(np.zeros((4, 6, 3), np.uint8))
    >>> g.flush()  # (appends within SEND_INTERVAL go out together)
    >>> g.n_frames, g.width, g.height, g.encoding, len(g.data)
    (3, 6, 4, '', 0)
    >>> g.finish()
    >>> g.encoding, g.frames().shape
    ('jpeg', (3, 4, 6, 3))
    >>> big = FrameGrid(np.zeros((2, 720, 1280, 3), np.uint8))
    >>> big.width, big.height
    (96, 54)
    """

    _esm = _HERE / "framegrid.js"
    _css = _HERE / "player.css"

    data = traitlets.Bytes(b"").tag(sync=True)
    encoding = traitlets.Enum(("", "indexed", "jpeg"), "").tag(sync=True)
    palette = traitlets.Bytes(b"").tag(sync=True)
    transparent = traitlets.Int(-1, min=-1, max=255).tag(sync=True)  # the clear index, -1: none
    columns = traitlets.Int(0).tag(sync=True)  # frames per row of a JPEG sheet
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    n_frames = traitlets.Int(0).tag(sync=True)
    zoom = traitlets.Int(2, min=1, max=16).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    view = traitlets.Enum(("grid", "play"), "grid").tag(sync=True)
    fps = traitlets.Float(12.0, min=0.1, max=240.0).tag(sync=True)
    display_width = traitlets.Int(256, min=16, max=4096).tag(sync=True)  # of the play view

    def __init__(
        self,
        frames: Sprite | Clip | NDArray[np.uint8] | None = None,
        *,
        thumb: int | None = THUMB,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.thumb = thumb  # longest side of a frame in the grid (None: as given)
        self.sprite: Sprite | None = None
        self._pending: list[NDArray[np.uint8]] = []  # frames appended live, not yet in ``data``
        self._unsent: list[NDArray[np.uint8]] = []  # of those, the ones not yet sent
        self._sent_at = 0.0
        if frames is not None:
            self.set(frames)

    def clear(self) -> None:
        self._pending, self._unsent = [], []
        self.sprite = None
        with self.hold_sync():
            self.data, self.encoding, self.palette, self.n_frames = b"", "", b"", 0
        self.send({"type": "clear"})

    def finish(self) -> None:
        """Keep the frames sent live as the one compact copy a saved notebook holds."""
        self.flush()
        if not self._pending:
            return
        frames = np.concatenate(self._pending)
        self._pending = []
        _, h, w, _ = frames.shape
        cw, ch = _cell(w), _cell(h)
        cols = max(1, min(len(frames), _MAX_SHEET_SIDE // cw, math.ceil(math.sqrt(len(frames) * ch / cw))))
        rows = math.ceil(len(frames) / cols)
        if rows * ch > _MAX_SHEET_SIDE:  # more thumbnails than one sheet holds: keep every k-th
            step = math.ceil(rows * ch / _MAX_SHEET_SIDE)
            frames = frames[::step]
            rows = math.ceil(len(frames) / cols)
        sheet = np.zeros((rows * ch, cols * cw, 3), np.uint8)
        for i, frame in enumerate(frames):
            r, c = divmod(i, cols)
            # Edge pixels fill the cell: a JPEG block never mixes two frames.
            sheet[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = np.pad(
                frame, ((0, ch - h), (0, cw - w), (0, 0)), mode="edge"
            )
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(sheet).save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        with self.hold_sync():
            self.data, self.encoding, self.columns, self.palette = buf.getvalue(), "jpeg", cols, b""
            self.n_frames = len(frames)

    def set(self, frames: Sprite | Clip | NDArray[np.uint8]) -> None:
        """Replace the frames: a Sprite is kept exactly, as palette indices."""
        self.clear()
        if isinstance(frames, Sprite) and (
            self.thumb is None or max(frames.width, frames.height) <= self.thumb
        ):
            self.sprite = frames
            with self.hold_sync():
                self._size(frames.width, frames.height)
                self.data = zlib.compress(frames.indices.tobytes(), 6)
                self.palette = frames.palette.colors.tobytes()
                self.transparent = -1 if frames.transparent is None else frames.transparent
                self.encoding, self.n_frames = "indexed", len(frames)
                if frames.fps:
                    self.fps = max(0.1, min(240.0, float(frames.fps)))
        else:
            self.append(frames)
            self.finish()
            self.sprite = frames if isinstance(frames, Sprite) else None
        self._refresh_fallback()

    def append(self, frames: Sprite | Clip | NDArray[np.uint8]) -> None:
        """Add one frame (h, w, 3) or several (T, h, w, 3) to the end, live."""
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
        known = self._pending[0].shape[1:3] if self._pending else (self.height, self.width)
        if (self._pending or self.n_frames) and known != (h, w):
            raise OptionError(f"frames of {w}x{h} cannot join a grid of {known[1]}x{known[0]}")
        self._pending.append(arr)
        self._unsent.append(arr)
        if time.monotonic() - self._sent_at >= SEND_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Send the frames appended since the last message, as one message with one binary
        buffer (appends come faster than a browser draws: they are sent at most every
        SEND_INTERVAL seconds, and on :meth:`finish`)."""
        if not self._unsent:
            return
        arr = np.concatenate(self._unsent)
        self._unsent = []
        self._sent_at = time.monotonic()
        _, h, w, _ = arr.shape
        with self.hold_sync():
            self._size(w, h)
            self.n_frames += arr.shape[0]
        self.send({"type": "append", "count": int(arr.shape[0]), "width": w, "height": h}, [arr.tobytes()])

    def frames(self) -> NDArray[np.uint8]:
        """The frames as the browser draws them (T, h, w, 3): decoded from ``data``."""
        w, h, n = self.width, self.height, self.n_frames
        if self.encoding == "indexed":
            idx = np.frombuffer(zlib.decompress(self.data), np.uint8).reshape(n, h, w)
            return np.frombuffer(self.palette, np.uint8).reshape(-1, 3)[idx]
        if self.encoding == "jpeg":
            from PIL import Image

            sheet = np.asarray(Image.open(io.BytesIO(self.data)).convert("RGB"))
            cols, cw, ch = self.columns, _cell(w), _cell(h)
            return np.stack([sheet[(i // cols) * ch :][:h, (i % cols) * cw :][:, :w] for i in range(n)])
        return np.concatenate(self._pending) if self._pending else np.zeros((0, h, w, 3), np.uint8)

    def _size(self, w: int, h: int) -> None:
        self.width, self.height = w, h
        if "zoom" not in self._trait_values or self.zoom * max(w, h) < 48:
            self.zoom = max(1, min(16, 96 // max(w, h)))

    def _thumbnails(self, arr: NDArray[np.uint8]) -> NDArray[np.uint8]:
        _, h, w, _ = arr.shape
        if self.thumb is None or max(w, h) <= self.thumb:
            return arr
        from pixelnb.resize import resize_frames
        from pixelnb.video import fit_size

        return resize_frames(arr, fit_size(w, h, self.thumb), "area")

    def _fallback_bundle(self) -> dict[str, Any]:
        """A contact sheet (not an animation): what the grid shows."""
        from pixelnb.export import png_bytes

        if self.sprite is not None and self.encoding == "indexed":
            from pixelnb.export import sheet_png

            png = sheet_png(self.sprite, scale=1)
            return {"text/html": _img(png, self.sprite.width, self.zoom, len(self.sprite)), "image/png": png}
        frames = self.frames() if self.n_frames else None
        if frames is None or not len(frames):
            return {}
        from pixelnb.export import sheet_layout

        cols, rows = sheet_layout(len(frames))
        _, h, w, _ = frames.shape
        sheet = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1, 3), 255, np.uint8)
        for i, frame in enumerate(frames):
            r, c = divmod(i, cols)
            sheet[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = frame
        png = png_bytes(sheet)
        return {"text/html": _img(png, 0, self.zoom, len(frames), sheet.shape[1]), "image/png": png}


def _img(png: bytes, frame_width: int, zoom: int, n: int, sheet_width: int | None = None) -> str:
    """An ``<img>`` of a contact sheet PNG, scaled by ``zoom`` with crisp pixels."""
    import base64

    from pixelnb.export import sheet_layout

    if sheet_width is None:
        cols, _ = sheet_layout(n)
        sheet_width = cols * (frame_width + 1) - 1
    return (
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="{sheet_width * zoom}" '
        f'style="image-rendering:pixelated" alt="{n} frames" />'
    )
