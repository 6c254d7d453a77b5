"""The animated player: an anywidget canvas that plays a Sprite with crisp pixels.

Frame protocol: the Sprite travels once, as two binary buffers, ``indices`` (uint8,
frames × height × width, row-major, zlib-deflated: pixel art's flat areas shrink it about
tenfold) and ``palette`` (uint8 RGB triples), with ``width``, ``height``, ``n_frames`` and
``fps``. The browser inflates them (``DecompressionStream``), decodes one ImageData per
frame through the palette and draws with image smoothing off, so a 168-frame 64×36
animation is about 80 kB of widget state, not megabytes of PNGs. The play timer runs in the browser;
the kernel hears only about pauses and scrubbing (``playing``, ``frame``).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from pixelnb.sprite import Sprite
from pixelnb.widgets._fallback import FallbackMixin

__all__ = ["Player"]

_HERE = Path(__file__).parent


MIN_FPS, MAX_FPS = 0.1, 240.0  # the rates player.js plays (its fps box has the same bounds)


class Player(FallbackMixin, anywidget.AnyWidget):
    """Plays a :class:`~pixelnb.Sprite`: play/pause, fps, scrubber, loop or ping-pong,
    zoom, checkerboard or solid background, and the palette as a strip.

    >>> import zlib
    >>> from pixelnb import Palette, Sprite
    >>> import numpy as np
    >>> p = Player(Sprite(np.zeros((3, 4, 5), np.uint8), Palette.preset("gameboy"), fps=8))
    >>> (p.n_frames, p.width, p.height, p.fps, len(zlib.decompress(p.indices)))
    (3, 5, 4, 8.0, 60)
    >>> p.encoding
    'deflate'
    """

    _esm = _HERE / "player.js"
    _css = _HERE / "player.css"

    indices = traitlets.Bytes(b"").tag(sync=True)
    encoding = traitlets.Enum(("deflate", "raw"), "deflate").tag(sync=True)  # of ``indices``
    palette = traitlets.Bytes(b"").tag(sync=True)
    width = traitlets.Int(0).tag(sync=True)
    height = traitlets.Int(0).tag(sync=True)
    n_frames = traitlets.Int(0).tag(sync=True)
    fps = traitlets.Float(12.0, min=MIN_FPS, max=MAX_FPS).tag(sync=True)
    playing = traitlets.Bool(True).tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    mode = traitlets.Enum(("loop", "pingpong"), "loop").tag(sync=True)
    zoom = traitlets.Int(4, min=1, max=16).tag(sync=True)  # player.js offers 1x to 16x
    background = traitlets.Enum(("checker", "solid"), "checker").tag(sync=True)
    background_color = traitlets.Unicode("#202020").tag(sync=True)
    transparent = traitlets.Int(-1, min=-1, max=255).tag(sync=True)  # the clear index, -1: none

    def __init__(self, sprite: Sprite | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._zoom_given = "zoom" in kwargs  # Player(sprite, zoom=1) keeps 1
        self._sprite: Sprite | None = None
        if sprite is not None:
            self.sprite = sprite

    @property
    def sprite(self) -> Sprite | None:
        return self._sprite

    @sprite.setter
    def sprite(self, sprite: Sprite) -> None:
        self._sprite = sprite
        durations = sprite.frame_durations()
        with self.hold_sync():
            self.width, self.height, self.n_frames = sprite.width, sprite.height, len(sprite)
            self.fps = min(MAX_FPS, max(MIN_FPS, round(1000.0 * len(durations) / sum(durations), 3)))
            self.palette = sprite.palette.colors.tobytes()
            self.transparent = -1 if sprite.transparent is None else sprite.transparent
            self.indices = zlib.compress(sprite.indices.tobytes(), 6)
            self.encoding = "deflate"
            if not self._zoom_given:
                self.zoom = min(16, max(1, 256 // max(sprite.width, sprite.height)))
            self.frame = 0
        self._refresh_fallback()

    def clear(self) -> None:
        """Show nothing (an empty player draws no frame and no "1/0")."""
        self._sprite = None
        with self.hold_sync():
            self.n_frames, self.indices, self.palette, self.frame = 0, b"", b"", 0
        self._refresh_fallback()
