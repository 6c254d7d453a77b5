"""pixelnb: pixel-art animations from videos, in the notebook.

>>> import pixelnb
>>> sprite = pixelnb.pixelate(pixelnb.data.sample_clip(), size=48, colors=12, fps=8)
>>> sprite.save("bunny.gif")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelnb._version import __version__
from pixelnb.errors import (
    AuthError,
    BundleError,
    DiskFull,
    DownloadError,
    GenerationFailed,
    InternalError,
    JobCancelled,
    LumaError,
    LumaUnavailable,
    ModerationError,
    OfflineError,
    OptionError,
    PaletteError,
    PixelnbError,
    QuotaError,
    RequestError,
    StoreError,
    VideoError,
)

# Everything else loads on first use: the pipeline (numpy, PyAV, Pillow) when a name of it
# is first touched, the job layer (asyncio, sqlite3, the Luma SDK) and the widgets only
# when asked for. `import pixelnb` stays cheap, and the command line can set up the process
# (one BLAS thread) before numpy loads.
_LAZY = {
    "data": "pixelnb.data",
    "PixelOptions": "pixelnb.options",
    "PRESETS": "pixelnb.palette",
    "Palette": "pixelnb.palette",
    "pixelate": "pixelnb.pipeline",
    "provenance": "pixelnb.stamp",
    "Sprite": "pixelnb.sprite",
    "Clip": "pixelnb.video",
    "probe": "pixelnb.video",
    "sample": "pixelnb.video",
    "Job": "pixelnb.jobs",
    "JobManager": "pixelnb.jobs",
    "bundle": "pixelnb.jobs",
    "use_bundle": "pixelnb.replay",
    "credits": "pixelnb.jobs",
    "generate": "pixelnb.jobs",
    "resume": "pixelnb.jobs",
    "Player": "pixelnb.widgets",
    "FrameGrid": "pixelnb.widgets",
    "Studio": "pixelnb.widgets",
    "Gallery": "pixelnb.widgets",
    "convert_many": "pixelnb.batch",
    "BatchResult": "pixelnb.batch",
    "sweep": "pixelnb.jobs",
    "design": "pixelnb.jobs",
    "animate": "pixelnb.jobs",
    "restyle": "pixelnb.jobs",
    "SpriteSet": "pixelnb.spriteset",
    "pixelate_set": "pixelnb.sets",
    "SweepResult": "pixelnb.jobs",
}

if TYPE_CHECKING:
    from pixelnb import data
    from pixelnb.batch import BatchResult, convert_many
    from pixelnb.jobs import (
        Job,
        JobManager,
        SweepResult,
        animate,
        bundle,
        credits,
        design,
        generate,
        restyle,
        resume,
        sweep,
    )
    from pixelnb.options import PixelOptions
    from pixelnb.palette import PRESETS, Palette
    from pixelnb.pipeline import pixelate
    from pixelnb.replay import use_bundle
    from pixelnb.sets import pixelate_set
    from pixelnb.sprite import Sprite
    from pixelnb.spriteset import SpriteSet
    from pixelnb.stamp import provenance
    from pixelnb.video import Clip, probe, sample
    from pixelnb.widgets import FrameGrid, Gallery, Player, Studio


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if name == "data" else getattr(module, name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    raise AttributeError(f"module 'pixelnb' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The lazily loaded names too, so tab completion offers Studio, generate, Job, ...
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PRESETS",
    "AuthError",
    "BatchResult",
    "BundleError",
    "Clip",
    "DiskFull",
    "DownloadError",
    "FrameGrid",
    "Gallery",
    "GenerationFailed",
    "InternalError",
    "Job",
    "JobCancelled",
    "JobManager",
    "LumaError",
    "LumaUnavailable",
    "ModerationError",
    "OfflineError",
    "OptionError",
    "Palette",
    "PaletteError",
    "PixelOptions",
    "PixelnbError",
    "Player",
    "QuotaError",
    "RequestError",
    "Sprite",
    "SpriteSet",
    "StoreError",
    "Studio",
    "SweepResult",
    "VideoError",
    "__version__",
    "animate",
    "bundle",
    "convert_many",
    "credits",
    "data",
    "design",
    "generate",
    "pixelate",
    "pixelate_set",
    "probe",
    "provenance",
    "restyle",
    "resume",
    "sample",
    "sweep",
    "use_bundle",
]
