"""How a generation is followed: the polling backoff and the deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pixelnb.retry import Backoff

__all__ = ["PollPolicy"]


@dataclass(frozen=True)
class PollPolicy:
    """How to follow a generation: backoff from ``initial`` to ``maximum`` seconds with
    ``jitter`` (a fraction), and give up after ``deadline`` seconds."""

    initial: float = 2.0
    maximum: float = 10.0
    factor: float = 1.5
    jitter: float = 0.2
    deadline: float = 20 * 60.0

    def delays(self, rng: random.Random | None = None) -> Backoff:
        return Backoff(self.initial, self.maximum, self.factor, self.jitter, rng)
