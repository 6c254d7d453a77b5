import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelnb.color import rgb_to_lab
from pixelnb.palette import Palette
from pixelnb.quantize import bayer_matrix, floyd_steinberg, map_indices, ordered_offsets


def test_map_indices_is_the_exact_nearest_colour():
    rng = np.random.default_rng(0)
    pal = rgb_to_lab(Palette.preset("db32").colors)
    frames = rgb_to_lab(rng.integers(0, 256, (3, 20, 20, 3)).astype(np.uint8))
    got = map_indices(frames, pal)
    brute = np.linalg.norm(frames[..., None, :] - pal, axis=-1).argmin(-1)
    np.testing.assert_array_equal(got, brute)


def test_hysteresis_keeps_the_previous_colour_when_nearly_as_close():
    pal = np.array([[50, 0, 0], [54, 0, 0]], np.float32)
    # Frame 0 sits nearer colour 0; frame 1 drifts just past the midpoint (52.5 > 52).
    frames = np.array([[[[51, 0, 0]]], [[[52.5, 0, 0]]]], np.float32)
    assert map_indices(frames, pal, hysteresis=0).ravel().tolist() == [0, 1]
    assert map_indices(frames, pal, hysteresis=3).ravel().tolist() == [0, 0]


def test_hysteresis_switches_when_another_colour_is_clearly_closer():
    pal = np.array([[50, 0, 0], [60, 0, 0]], np.float32)
    frames = np.array([[[[50, 0, 0]]], [[[59, 0, 0]]]], np.float32)
    assert map_indices(frames, pal, hysteresis=3).ravel().tolist() == [0, 1]


def test_bayer_matrix_holds_each_threshold_once():
    for n in (2, 4, 8):
        m = bayer_matrix(n)
        assert m.shape == (n, n)
        np.testing.assert_allclose(np.sort(m.ravel()), (np.arange(n * n) + 0.5) / (n * n))


def test_ordered_offsets_are_centred_and_tile():
    off = ordered_offsets((10, 6), 4, 8.0)
    assert off.shape == (10, 6)
    assert abs(float(off[:8, :4].mean())) < 1e-6
    np.testing.assert_array_equal(off[:4, :4], off[4:8, :4])


def test_floyd_steinberg_mixes_two_colours_in_proportion():
    pal = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    grey = np.full((1, 32, 32, 3), 128, np.uint8)
    idx = floyd_steinberg(grey, pal)
    assert set(np.unique(idx)) == {0, 1}
    assert abs(idx.mean() - 0.5) < 0.05


def test_floyd_steinberg_indices_stay_in_a_small_palette():
    pal = Palette.preset("gameboy").colors
    rng = np.random.default_rng(2)
    idx = floyd_steinberg(rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8), pal)
    assert idx.max() < 4


def test_a_still_pixel_keeps_its_colour_through_a_slow_drift():
    pal = np.array([[50, 0, 0], [60, 0, 0]], np.float32)
    # Drifts 1 unit a frame from 52 to 58: each step is small, so it switches only once
    # another colour is clearly closer (by more than still_margin).
    ramp = np.array([52, 53, 54, 55, 56, 57, 58, 59], np.float32)
    frames = np.zeros((len(ramp), 1, 1, 3), np.float32)
    frames[:, 0, 0, 0] = ramp
    plain = map_indices(frames, pal, hysteresis=3).ravel().tolist()
    gated = map_indices(frames, pal, hysteresis=3, still=3, still_margin=6).ravel().tolist()
    assert plain == [0, 0, 0, 0, 0, 1, 1, 1]
    assert gated == [0, 0, 0, 0, 0, 0, 0, 1]


def test_a_pixel_that_really_moves_is_remapped_at_once():
    pal = np.array([[50, 0, 0], [60, 0, 0]], np.float32)
    frames = np.array([[[[50, 0, 0]]], [[[57, 0, 0]]]], np.float32)  # one big step
    assert map_indices(frames, pal, hysteresis=3, still=3, still_margin=8).ravel().tolist() == [0, 1]


def test_a_stale_isolated_pixel_moves_with_its_region():
    """Hysteresis keeps a pixel's old colour within the margin; where every neighbour has
    moved on to the colour this pixel would take now, it moves too (no stale orphans when
    brightness drifts), while a pixel isolated by its own colour stays as it is."""
    from pixelnb.quantize import map_indices

    pal = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], np.float32)
    frames = np.zeros((2, 5, 5, 3), np.float32)
    frames[1] = [9, 0, 0]  # the region moves clearly to colour 1
    frames[1, 2, 2] = [5.5, 0, 0]  # this pixel only just: within the margin of colour 0
    frames[1, 0, 4] = [0, 5.5, 0]  # a corner pixel nearer colour 2 than its region's 1
    out = map_indices(frames, pal, hysteresis=2.0)
    assert (out[1] == 1).sum() == 24 and out[1, 2, 2] == 1  # the stale one joined its region
    assert out[1, 0, 4] == 0  # kept: colour 2 is nobody's around it


def _reference_map(values, pal, hysteresis, still, margin):
    """map_indices written the plain way: every distance, pixel by pixel for the orphans."""
    d = np.sqrt(((values[..., None, :].astype(np.float64) - pal.astype(np.float64)) ** 2).sum(-1))
    out, prev = [], None
    for t in range(len(values)):
        best = d[t].argmin(-1)
        if prev is None:
            chosen = best
        else:
            gap = np.take_along_axis(d[t], prev[..., None], -1)[..., 0] - d[t].min(-1)
            keep = gap <= hysteresis
            moved = np.sqrt(((values[t].astype(np.float64) - values[t - 1]) ** 2).sum(-1))
            keep |= (moved < still) & (gap <= margin)
            chosen = np.where(keep, prev, best)
            moved_on = chosen.copy()
            h, w = chosen.shape
            for y, x in zip(*np.nonzero(keep & (prev != best)), strict=True):
                near = [chosen[j, i] for j in range(y - 1, y + 2) for i in range(x - 1, x + 2)
                        if (j, i) != (y, x) and 0 <= j < h and 0 <= i < w]  # fmt: skip
                if all(v != chosen[y, x] for v in near) and sum(v == best[y, x] for v in near) >= 5:
                    moved_on[y, x] = best[y, x]
            chosen = moved_on
        out.append(chosen)
        prev = chosen
    return np.stack(out).astype(np.uint8)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    t=st.integers(1, 12),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    k=st.integers(2, 12),
    drift=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_map_indices_matches_a_plain_reference(t, h, w, k, drift, seed):
    """Whole-frame numpy, chunked tables and the gathered orphan check against the rules
    applied pixel by pixel (integer colours, margins no distance can equal)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 40, (1, h, w, 3))
    steps = rng.integers(-drift, drift + 1, (t, 1, 1, 3)).cumsum(0)
    values = np.clip(base + steps + rng.integers(-1, 2, (t, h, w, 3)), 0, 50).astype(np.float32)
    pal = rng.integers(0, 50, (k, 3)).astype(np.float32)
    got = map_indices(values, pal, hysteresis=3.5, still=3.5, still_margin=8.5)
    np.testing.assert_array_equal(got, _reference_map(values, pal, 3.5, 3.5, 8.5))
