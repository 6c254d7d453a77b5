"""A set of animations of one character: named Sprites that share one palette, one frame
size and an anchor, saved as one sheet (Aseprite JSON with a tag per animation), a Godot 4
``SpriteFrames`` resource, or a GIF per animation.

>>> import numpy as np
>>> from pixelnb.palette import Palette
>>> pal = Palette.from_hex(["#000000", "#ff0000", "#00ff00"])
>>> idle = np.zeros((2, 6, 4), np.uint8); idle[:, 3:, 1:3] = 1      # 2 px wide, feet at the bottom
>>> walk = np.zeros((3, 8, 8), np.uint8); walk[:, 1:6, 2:6] = 2     # 4 px wide, floating
>>> hero = SpriteSet({"idle": Sprite(idle, pal, transparent=0), "walk": Sprite(walk, pal, transparent=0)})
>>> hero
SpriteSet(idle: 2 frames, walk: 3 frames; 4x5, 2 colours, transparent, anchor bottom)
>>> bool((hero["walk"].indices[0, -1] != 0).any()), bool((hero["idle"].indices[0, -1] != 0).any())
(True, True)
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pixelnb.errors import OptionError
from pixelnb.sprite import Sprite, _opaque_box

__all__ = ["ANCHORS", "SpriteSet", "align"]

ANCHORS = ("bottom", "center", "none")


def _box(sprite: Sprite) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) around the opaque pixels of all frames (the whole frame if none)."""
    return _opaque_box(sprite.opaque()) or (0, sprite.height, 0, sprite.width)


def align(sprites: Mapping[str, Sprite], anchor: str = "bottom", pad: int = 0) -> dict[str, Sprite]:
    """Crop each animation to its opaque pixels and place them on one frame size: centred
    horizontally, and with ``"bottom"`` their lowest opaque row (the feet) on one baseline,
    with ``"center"`` centred; ``pad`` clear pixels around. Opaque sprites of one size are
    left as they are (there is nothing to line up)."""
    if anchor not in ANCHORS:
        raise OptionError(f"unknown anchor {anchor!r}; choose one of: {', '.join(ANCHORS)}")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise OptionError(f"pad must be a whole number of 0 or more, got {pad!r}")
    sizes = {(s.width, s.height) for s in sprites.values()}
    clear = {s.transparent for s in sprites.values()}
    if None in clear:
        if len(sizes) > 1:
            listed = ", ".join(f"{n} {s.width}x{s.height}" for n, s in sprites.items())
            raise OptionError(
                f"the animations differ in size ({listed}) and have no transparent background to "
                "line them up on: pixelate them with background='auto' (or a colour)"
            )
        return dict(sprites)
    if anchor == "none":
        if len(sizes) > 1:
            raise OptionError("the animations differ in size: line them up with anchor='bottom' or 'center'")
        return dict(sprites)
    boxes = {n: _box(s) for n, s in sprites.items()}
    w = max(x1 - x0 for _, _, x0, x1 in boxes.values()) + 2 * pad
    h = max(y1 - y0 for y0, y1, _, _ in boxes.values()) + 2 * pad
    out = {}
    for name, sprite in sprites.items():
        y0, y1, x0, x1 = boxes[name]
        bw, bh = x1 - x0, y1 - y0
        left = (w - bw) // 2
        top = h - pad - bh if anchor == "bottom" else (h - bh) // 2
        canvas = np.full((len(sprite), h, w), sprite.transparent, np.uint8)
        canvas[:, top : top + bh, left : left + bw] = sprite.indices[:, y0:y1, x0:x1]
        placed = {"anchor": anchor, "x": left - x0, "y": top - y0, "w": w, "h": h}
        out[name] = sprite.replace(indices=canvas, info={**sprite.info, "anchor": placed})
    return out


class SpriteSet(Mapping[str, Sprite]):
    """Named animations of one character with one palette, one frame size and one clear
    index; a mapping of names to :class:`~pixelnb.Sprite`.

    Built by :func:`pixelnb.pixelate_set`, or from Sprites that share a palette:
    ``SpriteSet({"idle": a, "walk": b}, anchor="bottom")`` lines them up (``"center"``, or
    ``"none"`` to keep them as they are).
    """

    def __init__(self, sprites: Mapping[str, Sprite], *, anchor: str = "bottom", pad: int = 0) -> None:
        if not isinstance(sprites, Mapping) or not sprites:
            raise OptionError(
                "a sprite set needs at least one animation, such as {'idle': sprite} "
                "or pixelate_set({'idle': 'idle.mp4', 'walk': 'walk.mp4'})"
            )
        for name, sprite in sprites.items():
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise OptionError(f"animation names are words such as 'walk', not {name!r}")
            if not isinstance(sprite, Sprite):
                raise OptionError(f"{name!r} must be a Sprite, not {type(sprite).__name__}")
        first_name, first = next(iter(sprites.items()))
        for name, sprite in sprites.items():
            if not np.array_equal(sprite.palette.colors, first.palette.colors):
                raise OptionError(
                    f"{name!r} and {first_name!r} do not share a palette: make them with pixelate_set, "
                    f"or pixelate both with palette={list(first.palette.hex)!r}"
                )
            if sprite.transparent != first.transparent:
                raise OptionError(f"{name!r} and {first_name!r} have different transparent indices")
        self.anchor = anchor
        self._sprites = align(sprites, anchor, pad)

    # -- the mapping -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Sprite:
        return self._sprites[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sprites)

    def __len__(self) -> int:
        return len(self._sprites)

    @property
    def first(self) -> Sprite:
        return next(iter(self._sprites.values()))

    @property
    def palette(self) -> Any:
        return self.first.palette

    @property
    def transparent(self) -> int | None:
        return self.first.transparent

    @property
    def width(self) -> int:
        return self.first.width

    @property
    def height(self) -> int:
        return self.first.height

    def __repr__(self) -> str:
        names = ", ".join(f"{n}: {len(s)} frames" for n, s in self._sprites.items())
        colours = len(self.palette) - (self.transparent is not None)
        clear = ", transparent" if self.transparent is not None else ""
        return (
            f"SpriteSet({names}; {self.width}x{self.height}, {colours} colours{clear}, anchor {self.anchor})"
        )

    # -- files -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], scale: int = 1, *, res_dir: str = "res://") -> Path:
        """Write the set, chosen by the extension of ``path``:

        - ``.png``: one sheet (a row per animation) and a ``.json`` beside it in Aseprite's
          array format, with a ``meta.frameTags`` entry per animation and each frame's
          duration;
        - ``.tres``: a Godot 4 ``SpriteFrames`` resource (one animation per name, its speed
          and loop flag, AtlasTexture regions) and the sheet it refers to as
          ``<res_dir><stem>.png``, written beside it;
        - a folder (no extension): one GIF per animation, named after it.
        """
        from pixelnb.export import save_set

        return save_set(self, path, scale, res_dir=res_dir)

    # -- notebook display --------------------------------------------------------------
    def to_html(self) -> str:
        """Each animation with its name, as animated images (a static view)."""
        cards = "".join(
            f'<figure style="margin:4px 12px 4px 0">{s.to_html()}<figcaption>{html.escape(n)} · '
            f"{len(s)} frames</figcaption></figure>"
            for n, s in self._sprites.items()
        )
        return f'<div style="display:flex;flex-wrap:wrap;align-items:flex-end">{cards}</div>'

    def _repr_html_(self) -> str:
        return self.to_html()

    def players(self) -> Any:
        """One :class:`~pixelnb.Player` per animation, each under its name (ipywidgets)."""
        import ipywidgets as W

        from pixelnb.widgets import Player

        return W.HBox(
            [W.VBox([W.HTML(f"<b>{html.escape(n)}</b>"), Player(s)]) for n, s in self._sprites.items()],
            layout=W.Layout(flex_flow="row wrap", align_items="flex-end"),
        )

    def _ipython_display_(self) -> None:
        # Each Player is displayed on its own, so each brings its fallback output: a saved
        # notebook shows every animation even where the widgets cannot run.
        from IPython.display import HTML, display

        from pixelnb.widgets import Player

        for name, sprite in self._sprites.items():
            display(HTML(f"<b>{html.escape(name)}</b> · {len(sprite)} frames"))  # type: ignore[no-untyped-call]
            display(Player(sprite))  # type: ignore[no-untyped-call]
