"""Map pixels to palette indices: exact nearest colour, dithering and temporal stability.

Distances are Euclidean in the perceptual working space (CIELAB by default). For
animations each pixel keeps the index it had in the previous frame unless another colour
is closer by more than ``hysteresis`` units; and where the pixel's own colour barely moved
since the previous frame (less than ``still`` units), it keeps its index until another
colour is closer by more than ``still_margin``. Near-identical frames then map to
identical indices, slow drifts switch a pixel once instead of back and forth, and what
really moves is re-mapped at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pixelnb.palette import distance_table, nearest

__all__ = ["DITHERS", "bayer_matrix", "floyd_steinberg", "map_indices", "ordered_offsets"]

DITHERS = ("none", "bayer2", "bayer4", "bayer8", "fs")


def bayer_matrix(n: int) -> NDArray[np.float32]:
    """The n×n ordered-dither threshold matrix (n a power of two), values in (0, 1)."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / (n * n)).astype(np.float32)


def ordered_offsets(shape: tuple[int, int], n: int, strength: float) -> NDArray[np.float32]:
    """Per-pixel offsets in −strength/2..strength/2 from a tiled Bayer matrix of size n."""
    h, w = shape
    m = bayer_matrix(n)
    tiled = np.tile(m, (-(-h // n), -(-w // n)))[:h, :w]
    return ((tiled - 0.5) * strength).astype(np.float32)


def map_indices(
    values: NDArray[np.float32],
    palette: NDArray[np.float32],
    *,
    hysteresis: float = 0.0,
    still: float = 0.0,
    still_margin: float = 0.0,
    proposals: NDArray[np.intp] | None = None,
) -> NDArray[np.uint8]:
    """Nearest palette index of every pixel of frames (T, h, w, 3) in the working space.

    With ``hysteresis`` > 0 a pixel of frame t keeps its index of frame t−1 while that
    colour is at most ``hysteresis`` farther than the best one. ``proposals`` (T, h, w)
    replaces the nearest colour as the candidate (the mode downscale uses it).
    """
    t_count, h, w, _ = values.shape
    n = h * w
    pal = np.asarray(palette, dtype=np.float32)
    flat = values.reshape(t_count * n, 3)
    out = np.empty(t_count * n, dtype=np.uint8)
    prev: NDArray[np.intp] | None = None
    cols = np.arange(n)
    # Frames per distance table: about 1 MB of table, big enough to amortise, small enough for cache.
    step = max(1, 262144 // (n * len(pal)))
    for t0 in range(0, t_count, step):
        t1 = min(t_count, t0 + step)
        d = distance_table(flat[t0 * n : t1 * n], pal)
        m = d.shape[1]
        chunk_best = nearest(d) if proposals is None else proposals[t0:t1].reshape(-1).astype(np.intp)
        if hysteresis <= 0:
            out[t0 * n : t1 * n] = chunk_best
            continue
        root = np.sqrt(d).reshape(-1)  # distances, not squares: the margin is in colour units
        for t in range(t0, t1):  # hysteresis runs frame after frame
            best = chunk_best[(t - t0) * n : (t - t0 + 1) * n]
            if prev is not None:
                # Gather each pixel's distance to its previous and its best colour.
                base = cols + (t - t0) * n
                gap = root.take(prev * m + base) - root.take(best * m + base)
                keep = gap <= hysteresis
                if still > 0:
                    moved = flat[t * n : (t + 1) * n] - flat[(t - 1) * n : t * n]
                    steady = np.einsum("ij,ij->i", moved, moved) < still * still
                    keep |= steady & (gap <= still_margin)
                chosen = np.where(keep, prev, best)
                # A pixel kept on its old colour while its neighbours moved on to the colour
                # it would take now is a stale orphan (slow brightness drifts leave them):
                # it moves with its region. Isolated by noise alone, it stays.
                stale = keep & (prev != best)
                if stale.any():
                    grid = chosen.reshape(h, w)
                    stale &= _isolated(grid).reshape(-1)
                    if stale.any():
                        stale &= _agreeing(grid, best.reshape(h, w)).reshape(-1) >= JOIN
                        chosen = np.where(stale, best, chosen)
                best = chosen
            out[t * n : (t + 1) * n] = best
            prev = best
    return out.reshape(t_count, h, w)


JOIN = 5  # of a stale orphan's eight neighbours, this many must hold its new colour


def _agreeing(idx: NDArray[np.intp], want: NDArray[np.intp]) -> NDArray[np.intp]:
    """For each pixel, how many of its eight neighbours hold the index ``want`` gives it."""
    h, w = idx.shape
    padded = np.full((h + 2, w + 2), -1, dtype=np.int16)  # indices fit; -1 is no neighbour
    padded[1:-1, 1:-1] = idx
    want = want.astype(np.int16)
    count = np.zeros((h, w), dtype=np.intp)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                count += padded[dy : dy + h, dx : dx + w] == want
    return count


def _isolated(idx: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Pixels whose index differs from every one of their (up to) eight neighbours'."""
    h, w = idx.shape
    padded = np.full((h + 2, w + 2), -1, dtype=np.int16)  # indices fit; -1 is no neighbour
    padded[1:-1, 1:-1] = idx
    idx = padded[1:-1, 1:-1]
    alone = np.ones((h, w), dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                alone &= padded[dy : dy + h, dx : dx + w] != idx
    return alone


def floyd_steinberg(frames: NDArray[np.uint8], colors: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Floyd–Steinberg error diffusion of RGB frames (T, h, w, 3) onto the palette colours.

    Pillow's C implementation does the diffusion (in sRGB, as image editors do); the
    palette is padded to 256 entries with copies of colour 0, so every index it returns
    is valid.
    """
    from PIL import Image

    k = len(colors)
    padded = np.zeros((256, 3), dtype=np.uint8)
    padded[:] = colors[0]
    padded[:k] = colors
    pal_img = Image.new("P", (1, 1))
    pal_img.putpalette(padded.tobytes())
    remap = np.zeros(256, dtype=np.uint8)
    remap[:k] = np.arange(k)
    out = np.empty(frames.shape[:3], dtype=np.uint8)
    for t, frame in enumerate(frames):
        q = Image.fromarray(frame, "RGB").quantize(palette=pal_img, dither=Image.Dither.FLOYDSTEINBERG)
        out[t] = remap[np.asarray(q)]
    return out
