"""pixelnb: pixel-art animations from videos, in the notebook.

>>> import pixelnb
>>> sprite = pixelnb.pixelate(pixelnb.data.sample_clip(), size=48, colors=12, fps=8)
>>> sprite.save("bunny.gif")  # doctest: +SKIP
"""

from __future__ import annotations

from pixelnb import data
from pixelnb.errors import OptionError, PaletteError, PixelnbError, VideoError
from pixelnb.palette import PRESETS, Palette
from pixelnb.pixelate import pixelate
from pixelnb.sprite import Sprite
from pixelnb.video import Clip, probe, sample

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Clip",
    "OptionError",
    "Palette",
    "PaletteError",
    "PixelnbError",
    "Sprite",
    "VideoError",
    "__version__",
    "data",
    "pixelate",
    "probe",
    "sample",
]
