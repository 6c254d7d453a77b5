"""The exceptions pixelnb raises.

Every error a person can cause or meet says what was wrong and what to do about it, and
derives from :class:`PixelnbError`, so ``except pixelnb.PixelnbError`` catches them all.
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixelnb.video import Clip

__all__ = ["OptionError", "PaletteError", "PixelnbError", "VideoError"]


class PixelnbError(Exception):
    """Base class of every error pixelnb raises on purpose."""


class OptionError(PixelnbError, ValueError):
    """An argument is out of range or of the wrong kind (size, colours, dither, ...)."""


class PaletteError(PixelnbError, ValueError):
    """A palette could not be built: unknown preset, bad colour, unreadable file."""


class VideoError(PixelnbError):
    """A video file could not be read: missing, empty, corrupt, truncated or without frames.

    ``path`` names the file. When a truncated file still gave some frames, ``partial``
    holds them as a :class:`~pixelnb.video.Clip`, so nothing already decoded is lost.
    """

    def __init__(self, path: str | PathLike[str], problem: str, *, partial: Clip | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.partial = partial
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem), {"partial": self.partial})
