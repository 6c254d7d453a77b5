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
        # Distances, not squares: the margin is in colour units. Only two entries per pixel
        # are ever read (its previous and its best colour), so only those are rooted.
        table = d.reshape(-1)
        # What does not depend on the previous frame's choice is computed for the chunk at once.
        span = np.arange(m)
        best_dist = np.sqrt(table.take(chunk_best * m + span))
        if still > 0:
            lo = max(t0, 1)
            moved = flat[lo * n : t1 * n] - flat[(lo - 1) * n : (t1 - 1) * n]
            steady = np.zeros(m, dtype=bool)
            steady[(lo - t0) * n :] = np.einsum("ij,ij->i", moved, moved) < still * still
        for t in range(t0, t1):  # hysteresis runs frame after frame
            part = slice((t - t0) * n, (t - t0 + 1) * n)
            best = chunk_best[part]
            if prev is not None:
                # Each pixel's distance to its previous colour, against its best one.
                gap = np.sqrt(table.take(prev * m + span[part])) - best_dist[part]
                keep = gap <= hysteresis
                if still > 0:
                    keep |= steady[part] & (gap <= still_margin)
                chosen = np.where(keep, prev, best)
                # A pixel kept on its old colour while its neighbours moved on to the colour
                # it would take now is a stale orphan (slow brightness drifts leave them):
                # it moves with its region. Isolated by noise alone, it stays.
                stale = np.flatnonzero(keep & (prev != best))
                if len(stale):
                    move = stale[_joins_region(chosen.reshape(h, w), best, stale)]
                    chosen[move] = best[move]
                best = chosen
            out[t * n : (t + 1) * n] = best
            prev = best
    return out.reshape(t_count, h, w)


JOIN = 5  # of a stale orphan's eight neighbours, this many must hold its new colour


_NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


def _joins_region(
    chosen: NDArray[np.intp], best: NDArray[np.intp], where: NDArray[np.intp]
) -> NDArray[np.bool_]:
    """For the pixels at flat positions ``where``: differs from all eight neighbours in
    ``chosen`` while at least JOIN of them hold the pixel's ``best`` index. Only these
    pixels are looked at, so a frame with few stale pixels costs little."""
    h, w = chosen.shape
    padded = np.full((h + 2, w + 2), -1, dtype=np.int16)  # indices fit; -1 is no neighbour
    padded[1:-1, 1:-1] = chosen
    ys, xs = np.divmod(where, w)
    at = (ys + 1) * (w + 2) + xs + 1  # the pixels' places in the padded grid, flat
    flat = padded.reshape(-1)
    near = flat[at[None, :] + np.array([dy * (w + 2) + dx for dy, dx in _NEIGHBOURS])[:, None]]  # (8, K)
    alone = (near != flat[at]).all(axis=0)
    agree = (near == best[where].astype(np.int16)).sum(axis=0)
    out: NDArray[np.bool_] = alone & (agree >= JOIN)
    return out


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
