"""Seamless loops: find the stretch of an animation whose end flows back into its start.

The method of video textures (Schödl et al., 2000): a cut from frame ``stop - 1`` back to
frame ``start`` is invisible when frame ``start`` looks like frame ``stop``, the one that
would have come next. Frames are compared as pictures (root mean square CIELAB distance
per pixel, a clear pixel against an opaque one counting as far apart), all pairs at once
through one matrix product; the seam is judged over a few frames on either side of the
cut (the dynamics, as in the paper), against the animation's mean frame-to-frame change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import OptionError

if TYPE_CHECKING:
    from pixelnb.sprite import Sprite

__all__ = ["LOOP_SCORE", "Loop", "find_loop", "frame_distances"]

# A loop is good when its seam is no larger than the mean step between frames.
LOOP_SCORE = 1.0
CLEAR_DISTANCE = 60.0  # CIELAB units between a clear pixel and an opaque one


@dataclass(frozen=True)
class Loop:
    """Frames ``start`` to ``stop`` (exclusive) play in a loop; ``score`` is the seam's
    distance over the typical frame-to-frame distance (0 is perfect, above 1 visible).
    ``bool(loop)`` says whether it loops well enough.

    >>> Loop(2, 10, 0.3), bool(Loop(0, 5, 2.5))
    (Loop(start=2, stop=10, score=0.3), False)
    """

    start: int
    stop: int
    score: float

    def __bool__(self) -> bool:
        return self.score <= LOOP_SCORE

    def __len__(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict[str, float | int]:
        return {"start": self.start, "stop": self.stop, "score": round(self.score, 3)}


def frame_distances(sprite: Sprite) -> NDArray[np.float64]:
    """(T, T) root mean square distance between every two frames, per pixel, in CIELAB."""
    from pixelnb.color import to_space

    lab = to_space(sprite.palette.colors, "lab").astype(np.float64)
    feats = lab[sprite.indices.reshape(len(sprite), -1)]  # (T, n, 3)
    if sprite.transparent is not None:
        clear = sprite.indices.reshape(len(sprite), -1) == sprite.transparent
        feats[clear] = 0.0
        # A fourth channel apart by CLEAR_DISTANCE between clear and opaque pixels.
        feats = np.concatenate([feats, (~clear * CLEAR_DISTANCE)[..., None]], axis=-1)
    flat = feats.reshape(len(sprite), -1)
    sq = (flat * flat).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (flat @ flat.T)
    out: NDArray[np.float64] = np.sqrt(np.maximum(d2, 0.0) / feats.shape[1])
    return out


# The seam is judged on a few frames around the cut, not one: frames start+k against
# stop+k for k in SEAM_WINDOW, weighted, so that motion carries on through the cut (a walk
# does not jump a step, a held frame is not shortened).
SEAM_WINDOW = (-2, -1, 0, 1)
SEAM_WEIGHTS = (1.0, 3.0, 3.0, 1.0)


def _seam_costs(
    d: NDArray[np.float64], start: NDArray[np.intp], stop: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Weighted mean of d[start+k, stop+k] over the window, where both frames exist."""
    n = len(d)
    total = np.zeros(len(start))
    weight = np.zeros(len(start))
    for k, w in zip(SEAM_WINDOW, SEAM_WEIGHTS, strict=True):
        a, b = start + k, stop + k
        ok = (a >= 0) & (b < n)
        total[ok] += w * d[a[ok], b[ok]]
        weight[ok] += w
    out: NDArray[np.float64] = total / weight
    return out


def find_loop(sprite: Sprite, min_frames: int = 4) -> Loop:
    """The loop of at least ``min_frames`` frames with the least visible seam.

    Every (start, stop) with ``stop - start >= min_frames`` and a frame after ``stop - 1``
    to compare with is scored; the best wins, the longer on a tie.
    """
    if isinstance(min_frames, bool) or not isinstance(min_frames, (int, np.integer)) or min_frames < 2:
        raise OptionError(f"min_frames must be a whole number of at least 2, got {min_frames!r}")
    n = len(sprite)
    if n < min_frames + 1:
        raise OptionError(
            f"finding a loop of at least {min_frames} frames needs {min_frames + 1} frames or more; "
            f"this animation has {n}"
        )
    d = frame_distances(sprite)
    typical = float(np.mean(np.diag(d, 1)))
    start, stop = np.triu_indices(n, k=min_frames)  # stop is the frame that would come next
    # Cuts whose whole window lies inside the clip, where there are any: at the clip's ends
    # half a window would let a pose that merely recurs pass for the cycle.
    whole = (start + min(SEAM_WINDOW) >= 0) & (stop + max(SEAM_WINDOW) < n)
    if whole.any():
        start, stop = start[whole], stop[whole]
    seam = _seam_costs(d, start, stop)
    if typical <= 1e-9:  # every frame alike: the whole animation loops
        return Loop(0, n, 0.0)
    score = seam / typical
    best = float(score.min())
    ties = np.flatnonzero(score <= best + 1e-9)
    pick = ties[np.argmax(stop[ties] - start[ties])]
    return Loop(int(start[pick]), int(stop[pick]), float(score[pick]))
