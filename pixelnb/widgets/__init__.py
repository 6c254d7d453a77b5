"""Notebook front end: the Player, the FrameGrid, a sweep's Gallery and the one-cell Studio."""

from pixelnb.widgets.framegrid import FrameGrid
from pixelnb.widgets.gallery import Gallery
from pixelnb.widgets.player import Player
from pixelnb.widgets.studio import Studio

__all__ = ["FrameGrid", "Gallery", "Player", "Studio"]
