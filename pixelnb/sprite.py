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

    from pixelnb.loop import Loop

__all__ = ["CHECKERBOARD", "Sprite"]

# CSS for the grey-and-white checkerboard behind transparent pixels.
CHECKERBOARD = "repeating-conic-gradient(#c8c8c8 0 25%,#f4f4f4 0 50%) 0 0/16px 16px"


@dataclass(frozen=True, eq=False)
class Sprite:
    """A pixel-art animation: ``indices`` (T, h, w) uint8 into ``palette``, played at ``fps``.

    ``durations`` (milliseconds per frame) overrides ``fps`` when frames last unequally.
    ``transparent`` is the palette index that means a clear pixel (None: all opaque); its
    palette colour is only what formats without alpha show.

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
    transparent: int | None = None

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
        t = self.transparent
        if t is not None and (
            isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < 256
        ):
            raise OptionError(f"transparent must be a palette index or None, got {t!r}")
        if t is not None and t >= len(self.palette):
            raise OptionError(f"transparent index {t} is outside the palette of {len(self.palette)} colours")
        if t is not None:
            object.__setattr__(self, "transparent", int(t))

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
        colours = len(self.palette) - (self.transparent is not None)
        clear = ", transparent" if self.transparent is not None else ""
        return f"Sprite({len(self)} frames, {self.width}x{self.height}, {colours} colours{clear}, {rate})"

    def replace(self, **changes: Any) -> Sprite:
        """A copy with some fields changed (``indices``, ``durations``, ``info`` ...)."""
        from dataclasses import replace

        return replace(self, **changes)

    # -- pixels --------------------------------------------------------------------------
    def to_rgb(self, scale: int = 1) -> NDArray[np.uint8]:
        """The frames as RGB (T, h*scale, w*scale, 3), nearest-neighbour upscaled."""
        rgb = self.palette.colors[self.indices]
        return _upscale(rgb, scale)

    def to_rgba(self, scale: int = 1) -> NDArray[np.uint8]:
        """The frames as RGBA (T, h*scale, w*scale, 4): alpha 0 on the transparent index."""
        rgb = self.to_rgb(scale)
        alpha = np.full((*rgb.shape[:3], 1), 255, np.uint8)
        if self.transparent is not None:
            clear = _upscale(self.indices[..., None], scale)[..., 0] == self.transparent
            alpha[clear] = 0
        return np.concatenate([rgb, alpha], axis=-1)

    def opaque(self) -> NDArray[np.bool_]:
        """(T, h, w) True where a pixel is not the transparent index."""
        if self.transparent is None:
            return np.ones(self.indices.shape, bool)
        out: NDArray[np.bool_] = self.indices != self.transparent
        return out

    # -- game-ready edits ---------------------------------------------------------------
    def crop(self, pad: int = 0) -> Sprite:
        """Crop every frame to the box around the opaque pixels of all frames together (so
        the frames stay aligned), with ``pad`` clear pixels around it.

        >>> idx = np.zeros((2, 8, 8), np.uint8); idx[0, 2, 3] = idx[1, 5, 4] = 1
        >>> Sprite(idx, Palette.from_hex(["#000000", "#ffffff"]), transparent=0).crop().indices.shape
        (2, 4, 2)
        """
        pad = int(pad)
        if pad < 0:
            raise OptionError(f"pad must be 0 or more, got {pad}")
        if self.transparent is None:
            if pad:
                raise OptionError(
                    "pad needs a transparent sprite (pixelate with background='auto' or a colour)"
                )
            return self
        box = _opaque_box(self.opaque())
        if box is None:
            raise OptionError("every pixel is transparent: there is nothing to crop to")
        y0, y1, x0, x1 = box
        idx = self.indices[:, y0:y1, x0:x1]
        if pad:
            idx = np.pad(idx, ((0, 0), (pad, pad), (pad, pad)), constant_values=self.transparent)
        info = {**self.info, "crop": {"x": x0 - pad, "y": y0 - pad, "w": idx.shape[2], "h": idx.shape[1]}}
        return self.replace(indices=np.ascontiguousarray(idx), info=info)

    def find_loop(self, min_frames: int = 4) -> Loop:
        """The segment whose last frame flows best into its first (see :class:`pixelnb.Loop`)."""
        from pixelnb.loop import find_loop

        return find_loop(self, min_frames=min_frames)

    def trim(self, start: int, stop: int) -> Sprite:
        """Frames ``start`` to ``stop`` (exclusive), with their timing."""
        if not 0 <= start < stop <= len(self):
            raise OptionError(f"trim needs 0 <= start < stop <= {len(self)}, got {start}, {stop}")
        durations = None if self.durations is None else self.durations[start:stop]
        return self.replace(indices=self.indices[start:stop], durations=durations)

    def pingpong(self) -> Sprite:
        """The animation forward then backward (the two ends once each), for a seamless
        back-and-forth of a clip that does not loop by itself."""
        if len(self) < 3:
            return self
        order = [*range(len(self)), *range(len(self) - 2, 0, -1)]
        durations = None if self.durations is None else tuple(self.durations[i] for i in order)
        return self.replace(
            indices=self.indices[order], durations=durations, info={**self.info, "pingpong": True}
        )

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
        # Clear pixels show over a checkerboard, as image editors show them.
        checker = f";background:{CHECKERBOARD}" if self.transparent is not None else ""
        return (
            f'<img src="data:image/gif;base64,{data}" width="{w}" height="{h}" '
            f'alt="{self!r}" style="image-rendering:pixelated;image-rendering:crisp-edges{checker}" />'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_png_(self) -> bytes:
        from pixelnb.export import sheet_png

        scale = max(1, _display_width(self.width, self.height) // self.width // 2)
        return sheet_png(self, scale=scale, gap=1)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]:
        data = {"text/html": self._repr_html_(), "image/png": self._repr_png_(), "text/plain": repr(self)}
        meta = self._output_metadata()
        return (data, meta) if meta else data

    def _output_metadata(self) -> dict[str, Any]:
        """What a saved notebook keeps beside this sprite's output: the generation it came
        from, so ``pixelnb bundle NOTEBOOK.ipynb`` finds it (nothing for a local video)."""
        gen = (self.info.get("provenance") or {}).get("generation")
        if not gen:
            return {}
        keep = ("id", "kind", "request_hash", "video_sha256")
        return {"pixelnb": {"generation": {k: gen.get(k) for k in keep}}}

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


def _opaque_box(opaque: NDArray[np.bool_]) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) around the pixels set in any frame of (T, h, w), or None."""
    any_frame: NDArray[np.bool_] = np.any(opaque, axis=0)
    rows, cols = np.flatnonzero(any_frame.any(axis=1)), np.flatnonzero(any_frame.any(axis=0))
    if not len(rows):
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _upscale(rgb: NDArray[np.uint8], scale: int) -> NDArray[np.uint8]:
    from pixelnb.export import check_scale

    check_scale(scale)
    if scale == 1:
        return rgb
    return rgb.repeat(scale, axis=-3).repeat(scale, axis=-2)


def _display_width(w: int, h: int) -> int:
    """A notebook-friendly display width: an integer multiple of w, about 256 px tall or wide."""
    return w * max(1, 256 // max(w, h))
