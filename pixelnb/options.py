"""The pixel-art options, checked once: what :func:`pixelnb.pixelate` takes, as one object.

:func:`pixelnb.pixelate`, :func:`pixelnb.generate`, the command line and the Studio all
build a :class:`PixelOptions`, so a wrong value fails in the same words everywhere and,
for a generation, before anything is paid for. Types are checked, not coerced: ``"64"`` is
not a size and ``"no"`` is not False. Combinations that cannot work are refused, and the
one that changes meaning is documented: with ``grid`` on, a found grid takes one colour
per cell (``sprite.info["downscale"]`` says ``"grid"``); where none is found the frames are
shrunk with ``downscale``.

>>> PixelOptions(size=48, colors=8).size
48
>>> PixelOptions(size="64")
Traceback (most recent call last):
...
pixelnb.errors.OptionError: size must be a whole number or (width, height), not '64' (text); write size=64
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from pixelnb.errors import OptionError
from pixelnb.matte import Background, parse_background
from pixelnb.palette import MAX_COLORS, MIN_COLORS, Palette, PaletteSpec, resolve_palette
from pixelnb.quantize import DITHERS
from pixelnb.resize import DOWNSCALES
from pixelnb.video import BACKENDS

__all__ = ["HYSTERESIS", "MAX_OUTPUT_SIDE", "MAX_SIZE", "PixelOptions", "check_number"]

# CIELAB units: a pixel keeps its colour unless another is this much closer (see pixelate).
HYSTERESIS = 3.0

MAX_SIZE = 1024  # cells on the longest side: far past pixel art, far below a frame buffer blow-up
MAX_OUTPUT_SIDE = 8192  # pixels a side of a written frame, after --scale
MAX_FPS = 240.0
GRIDS = ("auto", "off")
LOOPS = ("off", "auto")


def _kind(value: object) -> str:
    return "text" if isinstance(value, str) else type(value).__name__


def check_number(
    name: str, value: object, *, low: float, high: float = math.inf, low_open: bool = False
) -> float:
    """A real number (not a bool, not text) in [low, high] (or (low, high] with ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OptionError(f"{name} must be a number, not {value!r} ({_kind(value)})")
    v = float(value)
    if not math.isfinite(v) or v > high or v < low or (low_open and v == low):
        lo = f"above {low:g}" if low_open else f"at least {low:g}"
        hi = f" and at most {high:g}" if math.isfinite(high) else ""
        raise OptionError(f"{name} must be {lo}{hi}, got {value!r}")
    return v


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        hint = f"; write {name}={value.strip()}" if isinstance(value, str) and value.strip().isdigit() else ""
        raise OptionError(f"{name} must be a whole number from {low} to {high}, not {value!r}{hint}")
    if not low <= int(value) <= high:
        raise OptionError(f"{name} must be from {low} to {high}, got {value}")
    return int(value)


def _check_size(value: object) -> int | tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        n = int(value)
        if not 1 <= n <= MAX_SIZE:
            raise OptionError(f"size must be from 1 to {MAX_SIZE} pixels on the longest side, got {n}")
        return n
    if isinstance(value, (tuple, list)) and len(value) == 2:
        w, h = value
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (w, h)):
            if not (1 <= int(w) <= MAX_SIZE and 1 <= int(h) <= MAX_SIZE):
                raise OptionError(f"size must be from 1x1 to {MAX_SIZE}x{MAX_SIZE}, got {int(w)}x{int(h)}")
            return int(w), int(h)
    hint = ""
    if isinstance(value, str):
        text = value.strip().lower()
        hint = f"; write size={text}" if text.isdigit() else ""
        if "x" in text and all(p.strip().isdigit() for p in text.split("x", 1)):
            hint = f"; write size=({', '.join(p.strip() for p in text.split('x', 1))})"
    raise OptionError(f"size must be a whole number or (width, height), not {value!r} ({_kind(value)}){hint}")


def _check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise OptionError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    return value


def _check_palette(value: object) -> str | tuple[str, ...] | Palette:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, (str, Palette)):
        resolve_palette(value)
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(c, str) for c in value):
        resolve_palette(list(value))
        return tuple(value)
    raise OptionError(
        "palette must be 'auto', a preset name, a .hex/.gpl file, a list of hex colours or a Palette, "
        f"not {value!r}"
    )


@dataclass(frozen=True)
class PixelOptions:
    """How a video becomes pixel art; every field as :func:`pixelnb.pixelate` documents it.

    Built from keywords (``PixelOptions(size=48)``) or a mapping (:meth:`coerce`); checked
    when built, so an instance is always valid.
    """

    size: int | tuple[int, int] = 64
    colors: int = 16
    palette: PaletteSpec = "auto"  # kept as "auto", a name, a tuple of hex colours or a Palette
    dither: str = "none"
    fps: float | None = None
    downscale: str = "area"
    grid: Any = "off"  # "auto", "off" or a pixelnb.grid.Grid
    start: float | None = None
    end: float | None = None
    backend: str = "pyav"
    exact: bool = False
    hysteresis: float = HYSTERESIS
    background: Background = "keep"  # "keep", "auto" or an (r, g, b) key colour
    loop: str = "off"  # "auto" trims to the best seamless loop

    def __post_init__(self) -> None:
        from pixelnb.grid import Grid

        put = object.__setattr__
        put(self, "size", _check_size(self.size))
        put(self, "colors", _check_int("colors", self.colors, MIN_COLORS, MAX_COLORS))
        put(self, "palette", _check_palette(self.palette))
        _check_choice("dither", self.dither, DITHERS)
        if self.fps is not None:
            put(self, "fps", check_number("fps", self.fps, low=0.0, high=MAX_FPS, low_open=True))
        _check_choice("downscale", self.downscale, DOWNSCALES)
        if not isinstance(self.grid, Grid):
            _check_choice("grid", self.grid, GRIDS)
        if self.start is not None:
            put(self, "start", check_number("start", self.start, low=0.0))
        if self.end is not None:
            put(self, "end", check_number("end", self.end, low=0.0, low_open=True))
            if self.start is not None and self.end <= self.start:
                raise OptionError(f"end ({self.end:g} s) must come after start ({self.start:g} s)")
        _check_choice("backend", self.backend, BACKENDS)
        if not isinstance(self.exact, (bool, np.bool_)):
            raise OptionError(f"exact must be True or False, not {self.exact!r}")
        put(self, "exact", bool(self.exact))
        put(self, "hysteresis", check_number("hysteresis", self.hysteresis, low=0.0, high=100.0))
        put(self, "background", parse_background(self.background))
        _check_choice("loop", self.loop, LOOPS)
        if self.downscale == "mode" and self.dither != "none":
            raise OptionError(
                f"downscale='mode' keeps each cell's most common colour, so it cannot dither "
                f"(dither={self.dither!r}); use downscale='area' to dither"
            )

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def coerce(cls, value: PixelOptions | Mapping[str, Any] | None, **defaults: Any) -> PixelOptions:
        """An instance from itself, a mapping of fields, or None (the defaults), where
        ``defaults`` override the class's defaults (a job's are fps=12, grid="auto")."""
        if value is None:
            return cls(**defaults)
        if isinstance(value, PixelOptions):
            return value
        if not isinstance(value, Mapping):
            raise OptionError(
                f"pixel options must be a dict such as {{'size': 64, 'colors': 16}} or a PixelOptions, "
                f"not {value!r}"
            )
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - names, key=str)
        if unknown:
            raise OptionError(f"unknown pixel options {unknown}; use {sorted(names)}")
        opts = {**defaults, **value}
        for name in ("size", "background"):
            if isinstance(opts.get(name), list):
                opts[name] = tuple(opts[name])
        return cls(**opts)

    def replace(self, **changes: Any) -> PixelOptions:
        return replace(self, **changes)

    def check_output(self, scale: int) -> None:
        """Refuse an upscale that would make frames too big to hold, before any work."""
        from pixelnb.export import check_scale

        check_scale(scale)
        side = self.size if isinstance(self.size, int) else max(self.size)
        if side * scale > MAX_OUTPUT_SIDE:
            raise OptionError(
                f"size {side} at scale {scale} makes frames {side * scale} pixels wide; the limit is "
                f"{MAX_OUTPUT_SIDE}: use scale {max(1, MAX_OUTPUT_SIDE // side)} or less"
            )

    # -- storing ------------------------------------------------------------------------------
    def kwargs(self) -> dict[str, Any]:
        """The options as :func:`pixelnb.pixelate`'s keyword arguments."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(self.palette, tuple):
            d["palette"] = list(self.palette)
        return d

    def to_dict(self) -> dict[str, Any]:
        """The options as plain JSON values (a Palette as its hex colours, a Grid as its repr),
        as provenance records them; :meth:`coerce` builds them back."""
        d = asdict(self)
        if isinstance(self.palette, Palette):
            d["palette"] = list(self.palette.hex)
        elif isinstance(self.palette, tuple):
            d["palette"] = list(self.palette)
        for name in ("size", "background"):
            if isinstance(d[name], tuple):
                d[name] = list(d[name])
        if not isinstance(self.grid, str):
            d["grid"] = repr(self.grid)
        return d

    def to_json(self) -> str:
        from pixelnb.grid import Grid

        if isinstance(self.grid, Grid):
            raise OptionError("a job's pixel options take grid='auto' or 'off', not a Grid")
        d = asdict(self)
        if isinstance(self.palette, Palette):
            d["palette"] = list(self.palette.hex)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> PixelOptions:
        d = json.loads(text)
        if isinstance(d.get("palette"), list):
            d["palette"] = tuple(d["palette"])
        if isinstance(d.get("background"), list):
            d["background"] = tuple(d["background"])
        known = {f.name for f in fields(cls)}
        return cls.coerce({k: v for k, v in d.items() if k in known})
