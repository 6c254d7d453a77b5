"""What a job reports: its progress and the events of its changes."""

from __future__ import annotations

from dataclasses import dataclass

from pixelnb.errors import PixelnbError

__all__ = ["SPAN", "JobEvent", "Progress"]

# Where each state sits on the overall progress bar.
SPAN = {
    "pending": (0.0, 0.02),
    "queued": (0.02, 0.1),
    "dreaming": (0.1, 0.8),
    "downloading": (0.8, 0.88),
    "sampling": (0.88, 0.96),
    "pixelating": (0.96, 1.0),
    "completed": (1.0, 1.0),
    "failed": (1.0, 1.0),
    "cancelled": (1.0, 1.0),
}


@dataclass(frozen=True)
class Progress:
    """How far a job is: ``fraction`` of the whole (0–1) and the ``stage`` it is in."""

    fraction: float
    stage: str

    def __str__(self) -> str:
        return f"{self.stage} {self.fraction:.0%}"


@dataclass(frozen=True)
class JobEvent:
    """A change of a job's state or progress."""

    job_id: str
    state: str
    progress: Progress
    time: float
    error: PixelnbError | None = None
