"""Notebook front end: the Player, the FrameGrid and the one-cell Studio (anywidget)."""

from pixelnb.widgets.framegrid import FrameGrid
from pixelnb.widgets.player import Player
from pixelnb.widgets.studio import Studio

__all__ = ["FrameGrid", "Player", "Studio"]
