"""The result of the pipeline: palette indices per frame, one shared palette, and timing.

A :class:`Sprite` shows itself in a notebook as an animated image (a GIF inline as
text/html, nearest-neighbour scaled by CSS) with a PNG contact sheet as the image/png
fallback, so nbconvert, GitHub and reopened notebooks show it with no widget. Every view
is also a plain function: :meth:`Sprite.to_rgb`, :meth:`Sprite.contact_sheet`,
:meth:`Sprite.to_html`.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import OptionError
from pixelnb.palette import Palette

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Sprite"]


@dataclass(frozen=True, eq=False)
class Sprite:
    """A pixel-art animation: ``indices`` (T, h, w) uint8 into ``palette``, played at ``fps``.

    ``durations`` (milliseconds per frame) overrides ``fps`` when frames last unequally.

    >>> s = Sprite(np.zeros((2, 4, 4), np.uint8), Palette.preset("gameboy"), fps=10)
    >>> s.to_rgb().shape, s.frame_durations()
    ((2, 4, 4, 3), [100.0, 100.0])
    """

    indices: NDArray[np.uint8]
    palette: Palette
    fps: float | None = 12.0
    durations: tuple[float, ...] | None = None
    source: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        idx = np.asarray(self.indices)
        if idx.ndim == 2:
            idx = idx[None]
        if idx.ndim != 3:
            raise OptionError(f"indices must be (frames, height, width), got shape {idx.shape}")
        if idx.dtype != np.uint8:
            idx = idx.astype(np.uint8)
        if idx.size and int(idx.max()) >= len(self.palette):
            raise OptionError(f"index {int(idx.max())} is outside the palette of {len(self.palette)} colours")
        object.__setattr__(self, "indices", idx)
        if self.durations is not None:
            if len(self.durations) != len(idx) or any(d <= 0 for d in self.durations):
                raise OptionError("durations needs one positive value (ms) per frame")
        elif not self.fps or self.fps <= 0:
            raise OptionError(f"fps must be above 0, got {self.fps!r}")

    # -- shape and timing --------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def width(self) -> int:
        return int(self.indices.shape[2])

    @property
    def height(self) -> int:
        return int(self.indices.shape[1])

    def frame_durations(self) -> list[float]:
        """Milliseconds each frame is shown."""
        if self.durations is not None:
            return [float(d) for d in self.durations]
        assert self.fps
        return [1000.0 / self.fps] * len(self)

    def __repr__(self) -> str:
        rate = f"{self.fps:g} fps" if self.durations is None and self.fps else "variable timing"
        return f"Sprite({len(self)} frames, {self.width}x{self.height}, {len(self.palette)} colours, {rate})"

    # -- pixels --------------------------------------------------------------------------
    def to_rgb(self, scale: int = 1) -> NDArray[np.uint8]:
        """The frames as RGB (T, h*scale, w*scale, 3), nearest-neighbour upscaled."""
        rgb = self.palette.colors[self.indices]
        return _upscale(rgb, scale)

    def contact_sheet(self, columns: int | None = None, scale: int = 1, gap: int = 0) -> NDArray[np.uint8]:
        """All frames tiled row by row into one RGB image (a frame grid)."""
        from pixelnb.export import sheet_layout

        cols, rows = sheet_layout(len(self), columns)
        rgb = self.to_rgb(scale)
        _, h, w, _ = rgb.shape
        out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 255, np.uint8)
        for i, frame in enumerate(rgb):
            r, c = divmod(i, cols)
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = frame
        return out

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], scale: int = 1) -> Path:
        """Write the animation, chosen by the extension of ``path``.

        ``.gif`` (exact palette, looping), ``.png`` (a sprite sheet plus an Aseprite-style
        ``.json`` beside it), ``.apng``, ``.webp`` (lossless), ``.html`` (a page with the
        animation, the frame grid and the palette), ``.zip`` (the PNG frames), or a folder (a path without an
        extension, or an existing folder) of numbered PNG frames. Returns the path written.
        """
        from pixelnb.export import save_sprite

        return save_sprite(self, path, scale)

    def save_palette(self, path: str | os.PathLike[str]) -> Path:
        """Write the palette as a Lospec ``.hex`` or GIMP ``.gpl`` file."""
        return self.palette.save(path)

    # -- notebook display ----------------------------------------------------------------
    def to_html(self, width: int | None = None) -> str:
        """An ``<img>`` tag with the animated GIF inline, scaled crisply to ``width`` px."""
        from pixelnb.export import gif_bytes

        data = base64.b64encode(gif_bytes(self)).decode("ascii")
        w = width or _display_width(self.width, self.height)
        h = round(self.height * w / self.width)
        return (
            f'<img src="data:image/gif;base64,{data}" width="{w}" height="{h}" '
            f'alt="{self!r}" style="image-rendering:pixelated;image-rendering:crisp-edges" />'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_png_(self) -> bytes:
        from pixelnb.export import sheet_png

        scale = max(1, _display_width(self.width, self.height) // self.width // 2)
        return sheet_png(self, scale=scale, gap=1)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/html": self._repr_html_(), "image/png": self._repr_png_(), "text/plain": repr(self)}

    def plot_grid(self, columns: int | None = None, max_frames: int = 48) -> Figure:
        """Draw the frames as a labelled grid with matplotlib and return the figure.

        In a notebook end the line with ``;`` to show it once.
        """
        import matplotlib.pyplot as plt

        from pixelnb.export import sheet_layout

        n = min(len(self), max_frames)
        cols, rows = sheet_layout(n, columns)
        fig, axes = plt.subplots(
            rows, cols, figsize=(cols * 1.2, rows * 1.2 * self.height / self.width + 0.3), squeeze=False
        )
        rgb = self.to_rgb()
        times = np.cumsum([0.0, *self.frame_durations()])
        for i, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if i < n:
                ax.imshow(rgb[i], interpolation="nearest")
                ax.set_title(f"{i} · {times[i] / 1000:.2f}s", fontsize=6)
        fig.suptitle(repr(self), fontsize=8)
        return fig


def _upscale(rgb: NDArray[np.uint8], scale: int) -> NDArray[np.uint8]:
    from pixelnb.export import check_scale

    check_scale(scale)
    if scale == 1:
        return rgb
    return rgb.repeat(scale, axis=-3).repeat(scale, axis=-2)


def _display_width(w: int, h: int) -> int:
    """A notebook-friendly display width: an integer multiple of w, about 256 px tall or wide."""
    return w * max(1, 256 // max(w, h))
