"""Several videos of one character become one :class:`~pixelnb.SpriteSet`: one grid scale,
one palette, one frame size and anchor.

1. With ``grid="auto"`` the pixel grid is found on all the animations together (their
   evidence pooled for one pitch, each with its own phase: :func:`pixelnb.grid.detect`).
2. Each animation is pixelated once to learn which colours its subject uses; one palette
   is fitted on all of them, weighted by use (or, for a preset, its colours the set uses
   most are kept).
3. Each animation is pixelated again with that palette, trimmed to its loop if asked,
   then all are cropped and placed on one frame with a common anchor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelnb.errors import OptionError
from pixelnb.options import PixelOptions
from pixelnb.palette import Palette
from pixelnb.spriteset import ANCHORS, SpriteSet
from pixelnb.video import Clip

if TYPE_CHECKING:
    from pixelnb.grid import Frames

__all__ = ["SET_DEFAULTS", "pixelate_set"]

Source = str | os.PathLike[str] | Clip
# A set is made for a game: the background goes (the anchor needs it) unless asked to stay.
SET_DEFAULTS: dict[str, Any] = {"background": "auto"}
RATE_TOLERANCE = 0.001  # two frame rates within 0.1 % are one rate (29.97 vs 30 are not)
GRID_FRAMES = 12  # full-size frames per animation used to find the shared grid
FIRST_PASS_COLORS = 4  # the first pass keeps this many times the colours, to fit from
MERGE_DE = 3.0


def _rate(source: Source) -> float:
    from pixelnb.video import probe

    return source.fps if isinstance(source, Clip) else probe(source, rotation=False).fps


def _check_rates(sources: Mapping[str, Source]) -> None:
    rates = {name: _rate(src) for name, src in sources.items()}
    low, high = min(rates.values()), max(rates.values())
    if high > low * (1 + RATE_TOLERANCE):
        listed = ", ".join(f"{n} {r:g} fps" for n, r in rates.items())
        raise OptionError(
            f"the animations' frame rates differ ({listed}); give fps=12 (or another rate) to "
            "sample them all at one rate"
        )


def _shared_grids(sources: Mapping[str, Source], opts: PixelOptions) -> dict[str, Any]:
    """Each animation's grid, one scale for all; {} when no confident grid is found."""
    from pixelnb.grid import MIN_CONFIDENCE, detect
    from pixelnb.video import sample

    clips: list[Frames] = []  # Clips
    for src in sources.values():
        if isinstance(src, Clip):
            clips.append(src)
        else:
            clips.append(
                sample(src, frames=GRID_FRAMES, start=opts.start, end=opts.end, backend=opts.backend)  # type: ignore[arg-type]
            )
    size = opts.size
    prior = size if isinstance(size, int) else (int(size[0]), int(size[1]))
    grids = detect(clips, cells=prior)
    if min(g.confidence for g in grids) < MIN_CONFIDENCE:
        return {}
    return dict(zip(sources, grids, strict=True))


def _usage(sprite: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The subject's colours (RGB) and how many pixels use each."""
    counts = np.bincount(sprite.indices.ravel(), minlength=len(sprite.palette))
    keep = np.arange(len(sprite.palette)) != (sprite.transparent if sprite.transparent is not None else -1)
    keep &= counts > 0
    return sprite.palette.colors[keep], counts[keep]


def _shared_palette(first_pass: Mapping[str, Any], opts: PixelOptions) -> Palette:
    """One palette for every animation, from the colours their subjects use."""
    from pixelnb.color import from_space, to_space
    from pixelnb.palette import MAX_COLORS, fit_palette

    colours, counts = zip(*(_usage(s) for s in first_pass.values()), strict=True)
    rgb = np.concatenate(colours)
    weight = np.concatenate(counts)
    limit = min(opts.colors, MAX_COLORS - 1) if opts.background != "keep" else opts.colors
    if opts.palette != "auto":
        # A preset: its colours the whole set uses most (each pass kept the ones it used).
        merged: dict[bytes, int] = {}
        for c, n in zip(rgb, weight, strict=True):
            merged[c.tobytes()] = merged.get(c.tobytes(), 0) + int(n)
        top = sorted(merged, key=lambda k: -merged[k])[:limit]
        chosen = np.array([np.frombuffer(k, np.uint8) for k in top], np.uint8)
        return Palette(chosen, name="set")
    # Every subject pixel counts once: repeat each colour by its use (capped, to stay small).
    scale = max(1.0, float(weight.sum()) / 200_000)
    reps = np.maximum(1, np.round(weight / scale)).astype(int)
    points = np.repeat(to_space(rgb, "lab").reshape(-1, 3), reps, axis=0)
    centers = fit_palette(points, limit)
    # Two animations can leave two centres a hair apart: keep one of any pair closer than
    # MERGE_DE (CIELAB units), as nobody would tell them apart in a sprite.
    kept: list[np.ndarray[Any, Any]] = []
    for c in centers:
        if all(float(np.linalg.norm(c - k)) >= MERGE_DE for k in kept):
            kept.append(c)
    pal = from_space(np.array(kept, np.float32), "lab")
    _, first = np.unique(pal, axis=0, return_index=True)
    return Palette(pal[np.sort(first)], name="auto (set)")


def pixelate_set(
    sources: Mapping[str, Source],
    *,
    anchor: str = "bottom",
    pad: int = 0,
    **options: Any,
) -> SpriteSet:
    """Pixelate several animations of one character into one :class:`~pixelnb.SpriteSet`.

    ``sources`` maps names to videos (or Clips): ``{"idle": "idle.mp4", "walk":
    "walk.mp4"}``. ``options`` are :func:`pixelnb.pixelate`'s, the same for all; the
    background is made transparent unless ``background="keep"`` is given (the anchor lines
    the animations up by their opaque pixels). ``anchor`` is ``"bottom"`` (feet on one
    baseline), ``"center"`` or ``"none"``; ``pad`` adds clear pixels around. The animations
    must share a frame rate unless ``fps`` is given.
    """
    from pixelnb.pipeline import pixelate_with

    if not isinstance(sources, Mapping) or not sources:
        raise OptionError(
            "a sprite set needs at least one animation: "
            "pixelate_set({'idle': 'idle.mp4', 'walk': 'walk.mp4'})"
        )
    for name, src in sources.items():
        if not isinstance(name, str) or not name.strip():
            raise OptionError(f"animation names are words such as 'walk', not {name!r}")
        if not isinstance(src, (str, os.PathLike, Clip)):
            raise OptionError(f"{name!r} must be a video file path or a Clip, not {src!r}")
    if anchor not in ANCHORS:
        raise OptionError(f"unknown anchor {anchor!r}; choose one of: {', '.join(ANCHORS)}")
    opts = PixelOptions.coerce(options, **SET_DEFAULTS)
    if not isinstance(opts.grid, str):
        raise OptionError("a set finds one grid for all its animations: give grid='auto' or 'off'")
    if opts.fps is None:
        _check_rates(sources)
    # One scale for all: the shared grid where one is found, else every animation shrunk
    # (a grid found on one animation alone could give it another scale).
    grids = _shared_grids(sources, opts) if opts.grid == "auto" else {}
    per = {name: opts.replace(grid=grids.get(name, "off")) for name in sources}
    # The first pass only measures which colours each subject uses: with a finer palette
    # than the set will have, so the shared fit sees the colours, not another palette.
    finer = min(opts.colors * FIRST_PASS_COLORS, 254) if opts.palette == "auto" else opts.colors
    first = {
        name: pixelate_with(src, per[name].replace(loop="off", colors=finer)) for name, src in sources.items()
    }
    shared = _shared_palette(first, opts)
    sprites = {name: pixelate_with(src, per[name].replace(palette=shared)) for name, src in sources.items()}
    # Index 0 (the clear one) shows each matte's backdrop colour; one set shows one.
    if opts.background != "keep":
        colours = next(iter(sprites.values())).palette.colors
        sprites = {
            n: s.replace(palette=Palette(colours, name=shared.name)) if s.transparent == 0 else s
            for n, s in sprites.items()
        }
    for name, sprite in sprites.items():
        sprite.info["set"] = name
        sprite.info["provenance"]["options"] = opts.to_dict()  # what was asked, not the fitted palette
    return SpriteSet(sprites, anchor=anchor, pad=pad)
