"""pixelnb: pixel-art animations from videos, in the notebook.

>>> import pixelnb
>>> sprite = pixelnb.pixelate(pixelnb.data.sample_clip(), size=48, colors=12, fps=8)
>>> sprite.save("bunny.gif")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelnb import data
from pixelnb._version import __version__
from pixelnb.errors import (
    AuthError,
    DiskFull,
    DownloadError,
    GenerationFailed,
    InternalError,
    JobCancelled,
    LumaError,
    LumaUnavailable,
    ModerationError,
    OptionError,
    PaletteError,
    PixelnbError,
    QuotaError,
    RequestError,
    StoreError,
    VideoError,
)
from pixelnb.options import PixelOptions
from pixelnb.palette import PRESETS, Palette
from pixelnb.pixelate import pixelate
from pixelnb.sprite import Sprite
from pixelnb.video import Clip, probe, sample

# The job layer (asyncio, sqlite3, the Luma SDK) loads on first use, so that `import
# pixelnb` and `pixelnb convert` stay quick.
_LAZY = {
    "Job": "pixelnb.jobs",
    "JobManager": "pixelnb.jobs",
    "credits": "pixelnb.jobs",
    "generate": "pixelnb.jobs",
    "resume": "pixelnb.jobs",
    "Player": "pixelnb.widgets",
    "FrameGrid": "pixelnb.widgets",
    "Studio": "pixelnb.widgets",
}

if TYPE_CHECKING:
    from pixelnb.jobs import Job, JobManager, credits, generate, resume
    from pixelnb.widgets import FrameGrid, Player, Studio


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pixelnb' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazily loaded names too, so tab completion offers Studio, generate, Job, ...
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PRESETS",
    "AuthError",
    "Clip",
    "DiskFull",
    "DownloadError",
    "FrameGrid",
    "GenerationFailed",
    "InternalError",
    "Job",
    "JobCancelled",
    "JobManager",
    "LumaError",
    "LumaUnavailable",
    "ModerationError",
    "OptionError",
    "Palette",
    "PaletteError",
    "PixelOptions",
    "PixelnbError",
    "Player",
    "QuotaError",
    "RequestError",
    "Sprite",
    "StoreError",
    "Studio",
    "VideoError",
    "__version__",
    "credits",
    "data",
    "generate",
    "pixelate",
    "probe",
    "resume",
    "sample",
]
