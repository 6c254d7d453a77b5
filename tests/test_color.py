import numpy as np
import pytest

from pixelnb.color import delta_e2000, lab_to_rgb, oklab_to_rgb, rgb_to_lab, rgb_to_oklab

# Pairs and expected values from Sharma, Wu and Dalal (2005), the CIEDE2000 test data.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_delta_e2000_matches_published_pairs(lab1, lab2, expected):
    assert float(delta_e2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)


def test_delta_e2000_is_symmetric_and_zero_on_equal_colours():
    rng = np.random.default_rng(1)
    a = rgb_to_lab(rng.integers(0, 256, (500, 3)).astype(np.uint8))
    b = rgb_to_lab(rng.integers(0, 256, (500, 3)).astype(np.uint8))
    np.testing.assert_allclose(delta_e2000(a, b), delta_e2000(b, a), atol=1e-9)
    assert np.all(delta_e2000(a, a) == 0)


def test_lab_of_white_black_and_red():
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)


@pytest.mark.parametrize(("fwd", "back"), [(rgb_to_lab, lab_to_rgb), (rgb_to_oklab, oklab_to_rgb)])
def test_round_trip_returns_every_srgb_colour(fwd, back):
    grid = np.stack(np.meshgrid(*[np.arange(0, 256, 5)] * 3, indexing="ij"), -1).reshape(-1, 3)
    rgb = grid.astype(np.uint8)
    np.testing.assert_array_equal(back(fwd(rgb)), rgb)
