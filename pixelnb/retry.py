"""Waiting between attempts: one exponential backoff with jitter, one ``Retry-After`` reader."""

from __future__ import annotations

import email.utils
import random
import time

__all__ = ["Backoff", "retry_after_seconds"]


class Backoff:
    """Delays from ``initial`` growing by ``factor`` up to ``maximum``, each spread by
    ``jitter`` (a fraction) so that many clients do not retry in step.

    >>> b = Backoff(initial=1.0, factor=2.0, maximum=5.0, jitter=0.0)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 10.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self._rng = rng or random.Random()
        self._next = initial

    def next(self) -> float:
        d = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return d * (1 + self.jitter * (2 * self._rng.random() - 1)) if self.jitter else d

    def __iter__(self) -> Backoff:
        return self

    def __next__(self) -> float:
        return self.next()


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: a number, or an HTTP date; None if absent
    or unreadable.

    >>> retry_after_seconds("3"), retry_after_seconds(None), retry_after_seconds("soon")
    (3.0, None, None)
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
