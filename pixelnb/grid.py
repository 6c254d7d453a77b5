"""Recover the pixel grid that AI "pixel art" video only imitates.

A video model asked for pixel art paints cells a non-integer number of pixels wide, offset
by a fraction of a cell, slightly rotated, with blurred edges, grain and a chroma comb.
Resizing such frames to a target size drops, doubles or blurs rows and columns; finding
the grid the model meant gives back crisp cells.

How :func:`detect` works:

1. **Edge evidence.** Absolute differences between neighbouring pixels, summed over
   colour channels, along x and along y; a noise floor of 3x the median (plus one level) is subtracted.
   The frame is cut into strips (12 per axis) and each strip is averaged into a 1-D
   profile of edge strength, so a slight rotation does not smear the lines.
2. **Pitch.** Candidate periods between 3 px (below that the 2-px chroma comb of 4:2:0
   video wins) and an eighth of the frame come from the strips' summed power spectra. Each
   is scored by phase coherence: ``R = |Σ w(x) e^{2πix/p}| / Σ w(x)`` over the edge
   profiles of both axes (cells are square). Half and third periods are as coherent as the
   true one, so the largest period that scores at least 0.8 of the best wins.
3. **Phase and skew.** Each strip's resultant gives a phase; a line fitted through the
   strips' phases against their position gives the skew, its intercept the phase.
4. **Confidence.** The coherence at the chosen pitch (0–1). Real footage has edges at no
   fixed period and scores low; ``pixelate(grid="auto")`` uses a grid only above
   :data:`MIN_CONFIDENCE` and says so in ``sprite.info["grid"]``.
5. **Bent lines.** Each strip's own resultant says how far its lines sit from the comb;
   shrunk towards the comb where the strip has little evidence and smoothed across strips,
   these offsets bend the lines (per frame, and median-smoothed over ±2 frames).
6. **Cells.** One colour per cell: the per-channel median of a 3x3 set of points around
   the cell centre (the central third of the cell; its border is mixed by blur and chroma
   subsampling).
7. **Video.** Pitch and skew come from up to 12 frames spread over the clip; the phase is
   re-measured on every frame and median-smoothed over the two frames on either side, so cells do not
   shimmer; one palette is then fitted on the cells of all frames.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import OptionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pixelnb.video import Clip

__all__ = ["LOOKS_PIXELATED", "MIN_CONFIDENCE", "Grid", "GridStream", "detect", "looks_pixelated"]

MIN_CONFIDENCE = 0.22
# The confidence above which a video's first frame "looks like pixel art". Upscaled sprites
# score 0.94-0.97 and the real footage of ../shared/clips 0.10-0.19 on a centre crop.
LOOKS_PIXELATED = 0.5
MIN_PITCH = 3.0
STRIPS = 12
MIN_LINES = 8  # a grid shows edges on at least this many of its lines per axis
FRAME_PITCH_SPAN = 0.012  # each frame's pitch is looked for within ±1.2 % of the clip's


@dataclass(frozen=True)
class Grid:
    """A square pixel grid in frame coordinates.

    Cell boundaries run at ``x = phase_x + k * pitch + y * skew`` and
    ``y = phase_y + k * pitch - x * skew`` (``skew`` is the tangent of a small rotation).
    ``frame_phases`` holds a per-frame (phase_x, phase_y) when the grid drifts in a video,
    ``frame_bends`` per-frame offsets of the lines that bend.
    """

    pitch: float
    phase_x: float
    phase_y: float
    skew: float = 0.0
    confidence: float = 1.0
    frame_phases: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    # Per frame pitch (a zoom drift changes it), when it was measured; else ``pitch``.
    frame_pitches: tuple[float, ...] = field(default_factory=tuple)
    # Per frame, each line's own offset from the comb (pixels): vertical lines 0, 1, ...
    # from the first whole cell's left edge, then horizontal ones (irregular cells).
    frame_lines: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = field(default_factory=tuple)
    # Bent lines: per frame, how far the vertical lines sit from the comb at each of
    # ``bend_rows`` (y positions), and the horizontal lines at each of ``bend_cols``.
    frame_bends: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = field(default_factory=tuple)
    bend_rows: tuple[float, ...] = field(default_factory=tuple)
    bend_cols: tuple[float, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return (
            f"Grid(pitch={self.pitch:.3f} px, phase=({self.phase_x:.2f}, {self.phase_y:.2f}), "
            f"skew={math.degrees(math.atan(self.skew)):.2f}°, confidence={self.confidence:.2f})"
        )

    def cells_for(self, width: int, height: int) -> tuple[int, int, float, float]:
        """(columns, rows, x of the first whole cell, y of the first whole cell)."""
        x0 = self.phase_x % self.pitch
        y0 = self.phase_y % self.pitch
        cols = int((width - x0) // self.pitch)
        rows = int((height - y0) // self.pitch)
        return cols, rows, x0, y0

    def at(self, t: int) -> Grid:
        """The grid of frame ``t`` of the clip it was found on: its pitch, phase, bends and
        line offsets, as a one-frame Grid whose ``centres`` and ``frame_cells`` use them."""

        def pick(seq: tuple[Any, ...]) -> tuple[Any, ...]:
            return (seq[t],) if t < len(seq) else ()

        g = replace(
            self,
            frame_phases=pick(self.frame_phases),
            frame_pitches=pick(self.frame_pitches),
            frame_bends=pick(self.frame_bends),
            frame_lines=pick(self.frame_lines),
        )
        if g.frame_phases:
            g = replace(g, phase_x=g.frame_phases[0][0], phase_y=g.frame_phases[0][1])
        if g.frame_pitches:
            g = replace(g, pitch=g.frame_pitches[0])
        return g

    def frame_cells(
        self,
        frame: NDArray[np.uint8],
        phase: tuple[float, float] | None = None,
        bends: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
        pitch: float | None = None,
        lines: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    ) -> NDArray[np.uint8]:
        """One colour per cell of one frame: (rows, cols, 3) uint8."""
        g = self if phase is None else replace(self, phase_x=phase[0], phase_y=phase[1])
        if pitch is not None:
            g = replace(g, pitch=pitch)
        h, w = frame.shape[:2]
        px, py = g.centres(w, h, bends=bends, lines=lines)
        offs = np.array([-1, 0, 1], dtype=np.float64) * g.pitch / 6
        ox, oy = np.meshgrid(offs, offs)
        sx = (px[..., None] + ox.ravel()).clip(0, w - 1)
        sy = (py[..., None] + oy.ravel()).clip(0, h - 1)
        samples = _bilinear(frame, sx, sy)  # (rows, cols, 9, 3)
        cells: NDArray[np.uint8] = np.median(samples, axis=2).round().clip(0, 255).astype(np.uint8)
        return cells

    def centres(
        self,
        width: int,
        height: int,
        bends: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
        lines: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Where the cells' centres sit in a ``width`` × ``height`` frame: (x, y) arrays of
        shape (rows, cols), rotated by the skew, moved by the lines' bends and by each
        line's own offset. A one-frame Grid (:meth:`at`) uses its own bends and lines."""
        if bends is None and len(self.frame_bends) == 1:
            bends = self.frame_bends[0]
        if lines is None and len(self.frame_lines) == 1:
            lines = self.frame_lines[0]
        cols, rows, x0, y0 = self.cells_for(width, height)
        if cols < 1 or rows < 1:
            raise OptionError(
                f"a grid of pitch {self.pitch:.1f} px leaves no whole cell in a {width}x{height} frame"
            )
        cx = x0 + (np.arange(cols) + 0.5) * self.pitch
        cy = y0 + (np.arange(rows) + 0.5) * self.pitch
        if lines is not None:  # a cell sits between its own two lines
            cx = cx + _mid(lines[0], cols)
            cy = cy + _mid(lines[1], rows)
        yy, xx = np.meshgrid(cy, cx, indexing="ij")
        px, py = xx + yy * self.skew, yy - xx * self.skew
        if bends is not None and self.bend_rows and self.bend_cols:
            px = px + np.interp(py, self.bend_rows, bends[0])
            py = py + np.interp(px, self.bend_cols, bends[1])
        return px, py

    def cells(self, clip: Clip) -> NDArray[np.uint8]:
        """One colour per cell for every frame of a clip: (T, rows, cols, 3)."""
        phases = self.frame_phases or tuple((self.phase_x, self.phase_y) for _ in range(len(clip)))
        if len(phases) != len(clip):
            phases = tuple((self.phase_x, self.phase_y) for _ in range(len(clip)))
        bends = self.frame_bends if len(self.frame_bends) == len(clip) else (None,) * len(clip)
        pitches = self.frame_pitches if len(self.frame_pitches) == len(clip) else (self.pitch,) * len(clip)
        lines = self.frame_lines if len(self.frame_lines) == len(clip) else (None,) * len(clip)
        first = self.frame_cells(clip.frames[0], phases[0], bends[0], pitches[0], lines[0])
        out = np.empty((len(clip), *first.shape), dtype=np.uint8)
        for t, frame in enumerate(clip.frames):
            cells = first if t == 0 else self.frame_cells(frame, phases[t], bends[t], pitches[t], lines[t])
            out[t] = _anchored(cells, first.shape, phases[t], pitches[t])
        return out

    def plot(self, frame: NDArray[np.uint8], ax: Any = None) -> Figure:
        """Draw the grid lines over a frame for inspection (matplotlib)."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 8 * frame.shape[0] / frame.shape[1]))
        else:
            fig = ax.figure
        h, w = frame.shape[:2]
        ax.imshow(frame, interpolation="nearest")
        cols, rows, x0, y0 = self.cells_for(w, h)
        ys = np.array([0.0, h])
        for k in range(cols + 1):
            x = x0 + k * self.pitch
            ax.plot(x + ys * self.skew, ys, color="#ff00ff", linewidth=0.5)
        xs = np.array([0.0, w])
        for k in range(rows + 1):
            y = y0 + k * self.pitch
            ax.plot(xs, y - xs * self.skew, color="#00ffff", linewidth=0.5)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_title(repr(self), fontsize=8)
        ax.set_axis_off()
        return fig  # type: ignore[no-any-return]


def _mid(offsets: tuple[float, ...], n: int) -> NDArray[np.float64]:
    """Each of ``n`` cells' shift: the mean of its two lines' offsets (0 past the known ones)."""
    o = np.zeros(n + 1)
    k = min(len(offsets), n + 1)
    o[:k] = offsets[:k]
    out: NDArray[np.float64] = 0.5 * (o[:-1] + o[1:])
    return out


def _anchored(
    cells: NDArray[np.uint8], shape: tuple[int, ...], phase: tuple[float, float], pitch: float
) -> NDArray[np.uint8]:
    """A frame's cells in the clip's numbering: a frame whose lines moved by more than a
    cell from the first frame's (a drift, a zoom) has its own first whole cell elsewhere;
    ``phase`` is continuous (not wrapped), so floor(phase / pitch) says by how many cells."""
    dx, dy = -math.floor(phase[0] / pitch + 1e-9), -math.floor(phase[1] / pitch + 1e-9)
    rows, cols = shape[:2]
    out = np.empty((rows, cols, 3), np.uint8)
    ys = np.clip(np.arange(rows) - dy, 0, cells.shape[0] - 1)
    xs = np.clip(np.arange(cols) - dx, 0, cells.shape[1] - 1)
    out[:] = cells[ys][:, xs]  # edges repeat where a frame has a cell fewer
    return out


def _bilinear(img: NDArray[np.uint8], x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    x0 = np.floor(x).astype(np.intp)
    y0 = np.floor(y).astype(np.intp)
    x1 = np.minimum(x0 + 1, img.shape[1] - 1)
    y1 = np.minimum(y0 + 1, img.shape[0] - 1)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    f = img.astype(np.float64)
    top = f[y0, x0] * (1 - fx) + f[y0, x1] * fx
    bottom = f[y1, x0] * (1 - fx) + f[y1, x1] * fx
    out: NDArray[np.float64] = top * (1 - fy) + bottom * fy
    return out


def _edge_profiles(
    frame: NDArray[np.uint8], axis: int, strips: int = STRIPS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Edge-strength profiles along ``axis`` (1: x, 0: y), one per strip, and the strips'
    centres on the other axis."""
    f = frame.astype(np.int16)
    d = np.abs(np.diff(f, axis=axis)).sum(axis=-1, dtype=np.int32).astype(np.float32)
    sub = d[::3, ::3]  # a subsample is plenty for the floors
    # Grain and codec noise sit under a few times the median. A small sprite on a flat
    # background is a few strong edges among faint ones, and at crf 28 the faint ones are
    # H.264's 4- and 8-pixel block edges, a confident grid of their own: keep only edges
    # within reach of the strongest (a fifth of the 99.7th percentile).
    floor = max(3.0 * float(np.median(sub)) + 1.0, 0.2 * float(np.percentile(sub, 99.7)))
    d -= floor
    np.maximum(d, 0, out=d)
    if axis == 0:
        d = d.T  # profiles along y: rows of d are now columns of the frame
    n = d.shape[0]
    bounds = np.linspace(0, n, strips + 1).astype(int)
    profiles = np.stack([d[a:b].mean(axis=0, dtype=np.float64) for a, b in itertools.pairwise(bounds)])
    centres = (bounds[:-1] + bounds[1:]) / 2
    return profiles, centres


def _coherence(profiles: NDArray[np.float64], pitch: float) -> tuple[float, NDArray[np.complex128]]:
    """Phase coherence of all strips at ``pitch`` and each strip's resultant."""
    x = np.arange(profiles.shape[1]) + 0.5  # a difference sits between two pixels
    phasor = np.exp(2j * np.pi * x / pitch)
    res = profiles @ phasor
    total = profiles.sum()
    return (float(np.abs(res.sum()) / total) if total > 0 else 0.0), res


def _candidates(profiles: NDArray[np.float64], p_min: float, p_max: float, count: int = 6) -> list[float]:
    n = profiles.shape[1]
    size = 1 << math.ceil(math.log2(max(n, 8) * 8))
    spec = (np.abs(np.fft.rfft(profiles - profiles.mean(axis=1, keepdims=True), size, axis=1)) ** 2).sum(
        axis=0
    )
    freqs = np.fft.rfftfreq(size)
    ok = (freqs >= 1 / p_max) & (freqs <= 1 / p_min)
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return []
    peaks = [i for i in idx[1:-1] if spec[i] >= spec[i - 1] and spec[i] >= spec[i + 1]]
    peaks.sort(key=lambda i: -spec[i])
    out = []
    for i in peaks[:count]:
        p = 1 / freqs[i]
        out += [p * k for k in (1, 2, 3) if p * k <= p_max]
    return out


Cells = int | tuple[int, int]
if TYPE_CHECKING:
    Frames = Clip | NDArray[np.uint8]


def _frames_of(frames: Frames) -> NDArray[np.uint8]:
    arr = frames.frames if hasattr(frames, "frames") else np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or len(arr) == 0:
        raise OptionError(f"detect needs RGB frames (T, H, W, 3), got shape {arr.shape}")
    return arr


def _guess(cells: Cells | None, w: int, h: int) -> float | None:
    """The pitch a requested size implies: a count for the longest side, or (columns, rows)."""
    if cells is None:
        return None
    if isinstance(cells, tuple):
        if len(cells) != 2 or not all(isinstance(c, int) and c > 0 for c in cells):
            raise OptionError(f"cells must be a positive count or a (columns, rows) pair, got {cells!r}")
        return 0.5 * (w / cells[0] + h / cells[1])
    if not isinstance(cells, int) or isinstance(cells, bool) or cells <= 0:
        raise OptionError(f"cells must be a positive count or a (columns, rows) pair, got {cells!r}")
    return max(w, h) / cells


class _Evidence:
    """One clip's edge profiles: every frame's, and the picked frames' pooled."""

    def __init__(self, arr: NDArray[np.uint8], max_frames: int) -> None:
        t, h, w, _ = arr.shape
        pick = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))
        # Each frame's edge profiles are computed once: the picked frames give pitch and
        # skew, every frame its own phase.
        self._set([(_edge_profiles(f, 1), _edge_profiles(f, 0)) for f in arr], pick, w, h)

    @classmethod
    def of(cls, every: list[Any], w: int, h: int) -> _Evidence:
        """Evidence from profiles already computed (a stream's first frames), all picked."""
        e = cls.__new__(cls)
        e._set(every, np.arange(len(every)), w, h)
        return e

    def _set(self, every: list[Any], pick: NDArray[np.intp], w: int, h: int) -> None:
        self.every, self.pick, self.w, self.h = every, pick, w, h
        px = [self.every[i][0] for i in self.pick]
        py = [self.every[i][1] for i in self.pick]
        self.prof_x = np.concatenate([p for p, _ in px])
        self.prof_y = np.concatenate([p for p, _ in py])
        self.cx, self.cy = px[0][1], py[0][1]


@overload
def detect(
    frames: Frames, *, cells: Cells | None = None, max_frames: int = 12, like: Grid | None = None
) -> Grid: ...


@overload
def detect(
    frames: list[Frames] | tuple[Frames, ...],
    *,
    cells: Cells | None = None,
    max_frames: int = 12,
    like: Grid | None = None,
) -> list[Grid]: ...


def detect(
    frames: Frames | list[Frames] | tuple[Frames, ...],
    *,
    cells: Cells | None = None,
    max_frames: int = 12,
    like: Grid | None = None,
) -> Grid | list[Grid]:
    """Find the pixel grid of a clip (or of frames (T, H, W, 3), or one frame (H, W, 3)).

    ``cells`` (the longest side in cells, e.g. a requested size of 64, or a (columns,
    rows) pair) is a prior, not the answer: pitches within 15 % of the pitch it implies
    are favoured where the evidence is close, never where another pitch is clearly better.
    The returned :class:`Grid` carries a ``confidence``; below :data:`MIN_CONFIDENCE`
    treat it as "no grid".

    Several clips (a list) share one scale, as the animations of one character do: their
    evidence is pooled for the pitch and the rotation, and a list of Grids comes back, one
    per clip with its own phases. ``like=grid`` reuses a Grid's pitch and rotation for a
    new clip and finds only where its lines sit.
    """
    many = isinstance(frames, (list, tuple))
    clips = [_frames_of(f) for f in (frames if isinstance(frames, (list, tuple)) else [frames])]
    if not clips:
        raise OptionError("detect needs at least one clip")
    found = [_Evidence(arr, max_frames) for arr in clips]
    if like is not None:
        pitch, conf, skew = like.pitch, like.confidence, like.skew
    else:
        # Clips of other sizes (animations cropped differently) pool too: each strip is
        # padded with zeros, which add nothing to any pitch's evidence.
        w, h = max(e.w for e in found), max(e.h for e in found)
        prof_x = _stack_padded([e.prof_x for e in found])
        prof_y = _stack_padded([e.prof_y for e in found])
        chosen = _choose_pitch(prof_x, prof_y, w, h, _guess(cells, w, h))
        if chosen is None:
            fallback = Grid(pitch=max(w, h) / 64, phase_x=0.0, phase_y=0.0, confidence=0.0)
            return [fallback] * len(found) if many else fallback
        pitch, conf = chosen
        skews = [_skew(e.prof_x, e.cx, e.prof_y, e.cy, pitch, len(e.pick)) for e in found]
        skew = float(np.median(skews))
    grids = [_place(e, pitch, skew, conf) for e in found]
    return grids if many else grids[0]


def _stack_padded(profiles: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Strips of several clips as one array, the shorter ones padded with zeros at the end."""
    n = max(p.shape[1] for p in profiles)
    return np.concatenate([np.pad(p, ((0, 0), (0, n - p.shape[1]))) for p in profiles])


def _choose_pitch(
    prof_x: NDArray[np.float64], prof_y: NDArray[np.float64], w: int, h: int, guess: float | None
) -> tuple[float, float] | None:
    """The pitch the edges support best, and its confidence; None when there is nothing."""
    p_max = max(MIN_PITCH + 1, min(w, h) / 8)
    p_min = MIN_PITCH
    cands = _candidates(prof_x, p_min, p_max) + _candidates(prof_y, p_min, p_max)
    if guess is not None and p_min <= guess <= p_max:
        cands.append(guess)
    cands = [c for c in cands if p_min <= c <= p_max]

    def score(p: float) -> float:
        return 0.5 * (_coherence(prof_x, p)[0] + _coherence(prof_y, p)[0])

    if not cands:
        return None
    # Coarse scores for every candidate (merging near-duplicates), then refine the good ones.
    uniq: list[float] = []
    for c in sorted(cands):
        if not uniq or c > uniq[-1] * 1.01:
            uniq.append(c)
    coarse = []
    for c in uniq:
        grid = np.linspace(c * 0.97, c * 1.03, 13)
        s = [score(p) for p in grid]
        k = int(np.argmax(s))
        coarse.append((float(grid[k]), s[k]))
    top = max(s for _, s in coarse)
    refined = []
    for c, s0 in coarse:
        if s0 < 0.6 * top:
            refined.append((c, s0))
            continue
        fine = np.linspace(c * 0.995, c * 1.005, 11)
        scores = [score(p) for p in fine]
        k = int(np.argmax(scores))
        refined.append((float(fine[k]), scores[k]))

    def prior(p: float, s: float) -> float:
        # The requested size favours pitches within 15 % of it, without overruling evidence.
        return s * 1.1 if guess is not None and guess / 1.15 <= p <= guess * 1.15 else s

    best = max(prior(p, s) for p, s in refined)
    # Half and third periods are as coherent as the true one: take the largest good one.
    pitch, conf = max(((p, s) for p, s in refined if prior(p, s) >= 0.8 * best), key=lambda ps: ps[0])
    # Half and third periods are rejected above; a multiple of the true pitch can still win
    # when the art has features every few cells. The evidence decides: the true pitch's
    # lines in between the multiple's carry edges too.
    pitch = _resolve_multiple(prof_x, prof_y, pitch, p_min, score)
    fine = np.linspace(pitch * 0.999, pitch * 1.001, 9)
    scores = [score(p) for p in fine]
    k = int(np.argmax(scores))
    pitch, conf = float(fine[k]), float(scores[k])
    # A few strong edges (one square, a frame border) are coherent at many periods; a grid
    # shows edges on many of its lines.
    conf *= min(_lines_with_edges(prof_x, pitch), _lines_with_edges(prof_y, pitch)) / MIN_LINES
    return pitch, min(conf, 1.0)


BETWEEN = 0.35  # a divisor's in-between lines must carry this share of the edge weight


def _resolve_multiple(
    prof_x: NDArray[np.float64], prof_y: NDArray[np.float64], pitch: float, p_min: float, score: Any
) -> float:
    """The smallest pitch/k (k = 2..8) whose lines between pitch's lines carry edges too:
    pitch was a multiple of the grid's."""
    best = pitch
    for k in range(2, 9):
        q0 = pitch / k
        if q0 < p_min:
            break
        trial = np.linspace(q0 * 0.99, q0 * 1.01, 9)
        q = float(trial[int(np.argmax([score(t) for t in trial]))])
        share = min(_between_share(prof_x, q, k), _between_share(prof_y, q, k))
        # Blur and grain put some weight everywhere: the in-between lines must carry
        # clearly more than the halfway points between q's own lines do.
        noise = max(_between_share(prof_x, q / 2, 2), _between_share(prof_y, q / 2, 2))
        if share >= BETWEEN and share >= 1.5 * noise and score(q) >= 0.3 * score(pitch):
            best = q  # keep looking: a larger k may fit better still
    return best


def _between_share(profiles: NDArray[np.float64], q: float, k: int) -> float:
    """How much edge weight the lines of a comb at ``q`` carry off its every-k-th lines,
    relative to those: near 1 when every line has edges, near 0 when only the multiple's
    lines do (strip by strip, so a small rotation does not smear lines)."""
    x = np.arange(profiles.shape[1]) + 0.5
    _, res = _coherence(profiles, q)
    num = den = 0.0
    for prof, r in zip(profiles, res, strict=True):
        if prof.sum() <= 0:
            continue
        phase = float(np.angle(r) * q / (2 * np.pi))
        pos = (x - phase) / q
        line = np.round(pos).astype(np.intp)
        near = np.abs(pos - line) <= 0.25  # within a quarter cell of a line
        line = line[near] - line.min()
        weight = np.bincount(line % k, weights=prof[near], minlength=k)
        main = weight.max()
        if main <= 0:
            continue
        num += (weight.sum() - main) / (k - 1)
        den += main
    return num / den if den > 0 else 0.0


def _frame_pitch(
    along_x: tuple[NDArray[np.float64], NDArray[np.float64]],
    along_y: tuple[NDArray[np.float64], NDArray[np.float64]],
    pitch: float,
    span: float = FRAME_PITCH_SPAN,
) -> float:
    """One frame's own pitch near the clip's (a zoom drift moves it by up to ``span``)."""
    trial = np.linspace(pitch * (1 - span), pitch * (1 + span), 17)
    score = np.array([_coherence(along_x[0], p)[0] + _coherence(along_y[0], p)[0] for p in trial])
    k = int(np.argmax(score))
    if 0 < k < len(trial) - 1:  # a parabola through the best three
        a, b, c = score[k - 1], score[k], score[k + 1]
        den = a - 2 * b + c
        if den < 0:
            return float(trial[k] + 0.5 * (a - c) / den * (trial[1] - trial[0]))
    return float(trial[k])


def _centred(phase: tuple[float, float], pitch: float, w: int, h: int) -> tuple[float, float]:
    """A phase as the offset of the line nearest the frame's centre (which a zoom about the
    centre leaves in place), and back with the inverse sign."""
    return ((phase[0] - w / 2) % pitch, (phase[1] - h / 2) % pitch)


def _measure(
    ex: tuple[NDArray[np.float64], NDArray[np.float64]],
    ey: tuple[NDArray[np.float64], NDArray[np.float64]],
    pitch: float,
    skew: float,
    w: int,
    h: int,
) -> tuple[float, tuple[float, float], tuple[tuple[float, ...], tuple[float, ...]]]:
    """One frame: its pitch, its phase about the centre, its bends."""
    p = _frame_pitch(ex, ey, pitch)
    px, py, bx, by = _phase(ex, ey, p, skew)
    return p, _centred((px, py), p, w, h), (bx, by)


def _smooth_unwrapped(
    centred: list[tuple[float, float]], pitch: float, window: int = 5
) -> list[tuple[float, float]]:
    """Offsets about the centre, unwrapped over time and median-smoothed (±2 frames)."""
    arr = np.array(centred)
    unwrapped = np.unwrap(arr * 2 * np.pi / pitch, axis=0) * pitch / (2 * np.pi)
    out = []
    for i in range(len(arr)):
        lo, hi = max(0, i - window // 2), min(len(arr), i + window // 2 + 1)
        m = np.median(unwrapped[lo:hi], axis=0)
        out.append((float(m[0]), float(m[1])))
    return out


def _continuous(
    centred: list[tuple[float, float]], pitches: list[float], w: int, h: int
) -> list[tuple[float, float]]:
    """Each frame's phase at the origin, continuous over the clip: the first frame's in
    [0, pitch), the others counted from the same cell (see :func:`_anchored`)."""
    (c0x, c0y), p0 = centred[0], pitches[0]
    kx, ky = math.floor((w / 2 + c0x) / p0), math.floor((h / 2 + c0y) / p0)
    return [(w / 2 + cx - kx * p, h / 2 + cy - ky * p) for (cx, cy), p in zip(centred, pitches, strict=True)]


def _median_window(values: list[float], window: int = 5) -> list[float]:
    out = []
    for i in range(len(values)):
        lo, hi = max(0, i - window // 2), min(len(values), i + window // 2 + 1)
        out.append(float(np.median(values[lo:hi])))
    return out


def _place(e: _Evidence, pitch: float, skew: float, conf: float) -> Grid:
    """Where a clip's lines sit at a known pitch and rotation: per frame pitch (a zoom),
    phase and bends, each smoothed over neighbouring frames."""
    measured = [_measure(ex, ey, pitch, skew, e.w, e.h) for ex, ey in e.every]
    pitches = _median_window([m[0] for m in measured])
    centred = _smooth_unwrapped([m[1] for m in measured], pitch)
    smooth = _continuous(centred, pitches, e.w, e.h)
    bends = _smooth_bends([m[2] for m in measured])
    grid = Grid(
        pitch=pitch,
        phase_x=smooth[0][0],
        phase_y=smooth[0][1],
        skew=skew,
        confidence=conf,
        frame_phases=tuple(smooth),
        frame_pitches=tuple(pitches),
        frame_bends=tuple(bends),
        bend_rows=tuple(float(c) for c in e.every[0][0][1]),
        bend_cols=tuple(float(c) for c in e.every[0][1][1]),
    )
    lines = [_line_offsets(ex, ey, grid.at(t), bends[t], (e.w, e.h)) for t, (ex, ey) in enumerate(e.every)]
    return replace(grid, frame_lines=tuple(lines))


def _lines_with_edges(profiles: NDArray[np.float64], pitch: float) -> int:
    """How many grid lines (of either axis' profile) carry at least a fifth of the strongest
    line's edge weight, capped at MIN_LINES."""
    total = profiles.sum(axis=0)
    _, res = _coherence(total[None, :], pitch)
    phase = float(np.angle(res[0]) * pitch / (2 * np.pi))
    x = np.arange(len(total)) + 0.5
    line = np.round((x - phase) / pitch).astype(np.intp)
    line -= line.min()
    weight = np.bincount(line, weights=total)
    if weight.max() <= 0:
        return 0
    return int(min(MIN_LINES, (weight >= 0.2 * weight.max()).sum()))


def _skew(
    prof_x: NDArray[np.float64],
    cx: NDArray[np.float64],
    prof_y: NDArray[np.float64],
    cy: NDArray[np.float64],
    pitch: float,
    n_frames: int,
) -> float:
    """The small rotation that lines the strips' phases up (tangent of the angle)."""
    slopes = []
    for prof, centres, sign in ((prof_x, cx, 1.0), (prof_y, cy, -1.0)):
        _, res = _coherence(prof, pitch)
        res = res.reshape(n_frames, -1).sum(axis=0)  # each strip, summed over frames
        ang = np.unwrap(np.angle(res))
        shift = ang * pitch / (2 * np.pi)  # where the lines sit in each strip
        weights = np.abs(res)
        if weights.sum() <= 0:
            continue
        a = np.polyfit(centres, shift, 1, w=np.sqrt(weights))[0]
        slopes.append(sign * a)
    return float(np.clip(np.mean(slopes), -0.02, 0.02)) if slopes else 0.0


def _phase(
    along_x: tuple[NDArray[np.float64], NDArray[np.float64]],
    along_y: tuple[NDArray[np.float64], NDArray[np.float64]],
    pitch: float,
    skew: float,
) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
    """Where the cell boundaries sit in a frame, from its edge profiles: the phase (x, y) in
    pixels modulo the pitch, and per strip how far the lines bend away from that comb."""
    phases: list[float] = []
    bends: list[tuple[float, ...]] = []
    for (prof, centres), sign in ((along_x, 1.0), (along_y, -1.0)):
        x = np.arange(prof.shape[1]) + 0.5
        # Undo the skew per strip before adding strips up.
        shifts = sign * skew * centres
        phasor = np.exp(2j * np.pi * (x[None, :] - shifts[:, None]) / pitch)
        per_strip = (prof * phasor).sum(axis=1)
        res = per_strip.sum()
        phases.append(float((np.angle(res) * pitch / (2 * np.pi)) % pitch))
        # Each strip's own offset from the comb, shrunk towards 0 where its evidence is
        # weak, then smoothed across neighbouring strips (lines bend slowly).
        mag = np.abs(per_strip)
        offset = np.angle(per_strip * np.conj(res)) * pitch / (2 * np.pi)
        offset *= mag / (mag + 0.5 * (mag.mean() + 1e-12))
        offset = np.convolve(np.pad(offset, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
        bends.append(tuple(float(v) for v in offset))
    return phases[0], phases[1], bends[0], bends[1]


LINE_WINDOW = 0.3  # a line's own position is looked for within this share of a cell


def _line_offsets(
    along_x: tuple[NDArray[np.float64], NDArray[np.float64]],
    along_y: tuple[NDArray[np.float64], NDArray[np.float64]],
    grid: Grid,
    bends: tuple[tuple[float, ...], tuple[float, ...]],
    size: tuple[int, int],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Each line's own offset from the bent comb (irregular cells): the edge-weighted mean
    of the residuals within LINE_WINDOW of it, over every strip, shrunk towards 0 where a
    line has little evidence (a flat background keeps the comb)."""
    w, h = size
    cols, rows, x0, y0 = grid.cells_for(w, h)
    out: list[tuple[float, ...]] = []
    for (prof, centres), start, n, sign, bend in (
        (along_x, x0, cols, 1.0, bends[0]),
        (along_y, y0, rows, -1.0, bends[1]),
    ):
        x = np.arange(prof.shape[1]) + 0.5
        shift = sign * grid.skew * centres + np.asarray(bend)[: len(centres)]
        rel = (x[None, :] - start - shift[:, None]) / grid.pitch
        k = np.round(rel).astype(np.intp)
        r = (rel - k) * grid.pitch
        ok = (np.abs(r) <= LINE_WINDOW * grid.pitch) & (k >= 0) & (k <= n) & (prof > 0)
        weight = np.bincount(k[ok], weights=prof[ok], minlength=n + 1)
        moment = np.bincount(k[ok], weights=(prof * r)[ok], minlength=n + 1)
        lam = 0.5 * float(weight.mean()) + 1e-12
        out.append(tuple(float(v) for v in moment / (weight + lam)))
    return out[0], out[1]


def _smooth_bends(
    bends: list[tuple[tuple[float, ...], tuple[float, ...]]], window: int = 5
) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """Median of each frame's bends with its neighbours' (±2 frames)."""
    bx = np.array([b[0] for b in bends])
    by = np.array([b[1] for b in bends])
    out = []
    for i in range(len(bends)):
        lo, hi = max(0, i - window // 2), min(len(bends), i + window // 2 + 1)
        out.append(
            (tuple(np.median(bx[lo:hi], axis=0).tolist()), tuple(np.median(by[lo:hi], axis=0).tolist()))
        )
    return out


def looks_pixelated(path: Any, *, crop: int = 384) -> bool:
    """Whether a video's first frame looks like pixel art (a clear grid of big cells):
    what the Studio's Convert tab uses to look for a grid on its own. Cheap: one frame,
    a centre crop of ``crop`` pixels, about 0.1 s for 720p.

    >>> from pixelnb.data import sample_clip
    >>> looks_pixelated(sample_clip())
    False
    """
    from pixelnb.video import sample

    first = sample(path, fps=1.0, end=0.5).frames[0]
    h, w, _ = first.shape
    s = min(h, w, crop)
    y, x = (h - s) // 2, (w - s) // 2
    return bool(detect(first[y : y + s, x : x + s]).confidence >= LOOKS_PIXELATED)


class GridStream:
    """Find a clip's grid and read its cells frame by frame, holding only a few full frames.

    A 10 s 1080p clip is 746 MB of frames at 12 fps; the grid path needs them only long
    enough to read their cells. ``push`` each decoded frame: the first ``warmup`` frames
    (kept) give the pitch and rotation (or ``grid`` is used as given); from then on each
    frame's phase and bends are measured as it comes, smoothed over ``window`` frames
    (median, as :func:`detect` does), and its cells read once its neighbours are in, so at
    most ``max(warmup, window)`` full frames are held. When the grid is not confident,
    ``shrink(frame)`` is kept for each frame instead (the downscale fallback). Call
    :meth:`finish` after the last frame; ``out`` then holds the cells (or shrunk frames)
    in order, ``grid`` the Grid with every frame's phase.
    """

    def __init__(
        self,
        *,
        cells: Cells | None = None,
        grid: Grid | None = None,
        shrink: Any = None,
        warmup: int = 12,
        window: int = 5,
    ) -> None:
        self.prior, self.given, self.shrink = cells, grid, shrink
        self.warmup, self.window = warmup, window
        self.grid: Grid | None = None
        self.confident = False
        self.out: list[NDArray[np.uint8]] = []
        self._held: list[NDArray[np.uint8]] = []  # full frames waiting for their cells
        self._profiles: list[Any] = []  # every frame's edge profiles (small)
        self._measured: list[
            tuple[float, float, tuple[float, ...], tuple[float, ...]]
        ] = []  # pitch, -, bends
        self._w = self._h = 0
        self._anchor: tuple[int, int] | None = None
        self._unwrapped: list[tuple[float, float]] = []
        self._done = 0  # frames whose output is made
        self.peak_held = 0

    def push(self, frame: NDArray[np.uint8]) -> None:
        self._profiles.append((_edge_profiles(frame, 1), _edge_profiles(frame, 0)))
        self._held.append(frame)
        if self.grid is None:
            if self.given is not None or len(self._held) >= self.warmup:
                self._decide()
        else:
            self._measure(len(self._profiles) - 1)
        self._emit(final=False)
        self.peak_held = max(self.peak_held, len(self._held))

    def finish(self) -> None:
        if self.grid is None and self._held:
            self._decide()
        self._emit(final=True)
        if self.grid is not None and self._unwrapped:
            p = self.grid.pitch
            phases = tuple(self._smoothed(t) for t in range(len(self._unwrapped)))
            self.grid = replace(
                self.grid, phase_x=phases[0][0] % p, phase_y=phases[0][1] % p, frame_phases=phases
            )

    # -- inside --------------------------------------------------------------------------------
    def _decide(self) -> None:
        h, w = self._held[0].shape[:2]
        self._h, self._w = h, w
        if self.given is not None:
            self.grid, self.confident = self.given, True
        else:
            e = _Evidence.of(list(self._profiles), w, h)
            chosen = _choose_pitch(e.prof_x, e.prof_y, w, h, _guess(self.prior, w, h))
            if chosen is None:
                self.grid = Grid(pitch=max(w, h) / 64, phase_x=0.0, phase_y=0.0, confidence=0.0)
            else:
                pitch, conf = chosen
                skew = _skew(e.prof_x, e.cx, e.prof_y, e.cy, pitch, len(e.pick))
                self.grid = Grid(
                    pitch=pitch,
                    phase_x=0.0,
                    phase_y=0.0,
                    skew=skew,
                    confidence=conf,
                    bend_rows=tuple(float(c) for c in e.cx),
                    bend_cols=tuple(float(c) for c in e.cy),
                )
            self.confident = self.grid.confidence >= MIN_CONFIDENCE
        if not self.grid.bend_rows:
            self.grid = replace(
                self.grid,
                bend_rows=tuple(float(c) for c in self._profiles[0][0][1]),
                bend_cols=tuple(float(c) for c in self._profiles[0][1][1]),
            )
        for t in range(len(self._profiles)):
            self._measure(t)

    def _measure(self, t: int) -> None:
        assert self.grid is not None
        if not self.confident:
            return
        ex, ey = self._profiles[t]
        pitch, centred, bends = _measure(ex, ey, self.grid.pitch, self.grid.skew, self._w, self._h)
        self._measured.append((pitch, 0.0, bends[0], bends[1]))
        p = self.grid.pitch
        if not self._unwrapped:
            self._unwrapped.append(centred)
        else:
            ux, uy = self._unwrapped[-1]
            self._unwrapped.append(
                (ux + (centred[0] - ux + p / 2) % p - p / 2, uy + (centred[1] - uy + p / 2) % p - p / 2)
            )

    def _window(self, t: int, n: int) -> slice:
        return slice(max(0, t - self.window // 2), min(n, t + self.window // 2 + 1))

    def _pitch(self, t: int) -> float:
        return float(np.median([m[0] for m in self._measured[self._window(t, len(self._measured))]]))

    def _smoothed(self, t: int) -> tuple[float, float]:
        """Frame ``t``'s phase at the origin, continuous over the clip (see _continuous)."""
        c = np.median(np.array(self._unwrapped[self._window(t, len(self._unwrapped))]), axis=0)
        if self._anchor is None:  # the first frame fixes which cell is cell 0
            p0 = self._pitch(0)
            self._anchor = (
                math.floor((self._w / 2 + float(c[0])) / p0),
                math.floor((self._h / 2 + float(c[1])) / p0),
            )
        p = self._pitch(t)
        return self._w / 2 + float(c[0]) - self._anchor[0] * p, self._h / 2 + float(c[1]) - self._anchor[
            1
        ] * p

    def _bends(self, t: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        near = self._measured[self._window(t, len(self._measured))]
        bx = np.median(np.array([m[2] for m in near]), axis=0)
        by = np.median(np.array([m[3] for m in near]), axis=0)
        return tuple(bx.tolist()), tuple(by.tolist())

    def _emit(self, final: bool) -> None:
        if self.grid is None:
            return
        ahead = self.window // 2
        while self._held:
            t = self._done
            if self.confident and not final and t + ahead >= len(self._unwrapped):
                return  # its later neighbours are not in yet
            frame = self._held.pop(0)
            if self.confident:
                phase, pitch, bends = self._smoothed(t), self._pitch(t), self._bends(t)
                here = replace(self.grid, phase_x=phase[0], phase_y=phase[1], pitch=pitch)
                ex, ey = self._profiles[t]
                lines = _line_offsets(ex, ey, here, bends, (self._w, self._h))
                cells = self.grid.frame_cells(frame, phase, bends, pitch, lines)
                self.out.append(
                    _anchored(cells, self.out[0].shape if self.out else cells.shape, phase, pitch)
                )
            else:
                self.out.append(self.shrink(frame) if self.shrink is not None else frame)
            self._done += 1
            self._profiles[t] = None  # its profiles have done their work
