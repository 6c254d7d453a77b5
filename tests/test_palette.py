from pathlib import Path

import numpy as np
import pytest

from pixelnb.color import rgb_to_lab
from pixelnb.errors import PaletteError
from pixelnb.palette import PRESETS, Palette, fit_palette, median_cut, resolve_palette

EXPECTED_SIZES = {
    "pico-8": 16,
    "gameboy": 4,
    "nes": 55,
    "db16": 16,
    "db32": 32,
    "sweetie-16": 16,
    "endesga-32": 32,
    "aap-64": 64,
    "1bit": 2,
}


@pytest.mark.parametrize(("name", "size"), sorted(EXPECTED_SIZES.items()))
def test_presets_have_their_published_sizes_and_distinct_colours(name, size):
    p = Palette.preset(name)
    assert len(p) == size
    assert len(np.unique(p.colors, axis=0)) == size


def test_preset_colours_are_the_published_ones():
    assert Palette.preset("pico-8").hex[:3] == ["#000000", "#1d2b53", "#7e2553"]
    assert Palette.preset("gameboy").hex == ["#0f380f", "#306230", "#8bac0f", "#9bbc0f"]
    assert Palette.preset("sweetie-16").hex[0] == "#1a1c2c"


@pytest.mark.parametrize("alias", ["PICO8", "Game Boy", "gb", "endesga32", "AAP_64", "1-bit"])
def test_presets_answer_to_common_spellings(alias):
    assert resolve_palette(alias) is not None


def test_unknown_preset_lists_the_valid_names():
    with pytest.raises(PaletteError) as err:
        Palette.preset("pico-9")
    for name in PRESETS:
        assert name in str(err.value)


def test_auto_resolves_to_none():
    assert resolve_palette("auto") is None


def test_hex_list_accepts_with_and_without_hash():
    p = resolve_palette(["#ff0000", "00ff00", "0000FF"])
    assert p is not None and p.colors.tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


@pytest.mark.parametrize("bad", [["#ff00"], ["red", "blue"], ["#gg0000", "#000000"]])
def test_bad_hex_colours_are_named_in_the_error(bad):
    with pytest.raises(PaletteError, match="not a colour"):
        Palette.from_hex(bad)


@pytest.mark.parametrize("n", [0, 1, 257])
def test_palette_size_out_of_range(n):
    with pytest.raises(PaletteError, match="2 to 256"):
        Palette(np.zeros((n, 3), np.uint8))


@pytest.mark.parametrize("ext", [".hex", ".gpl"])
def test_save_and_load_round_trip(tmp_path: Path, ext):
    p = Palette.preset("db16")
    loaded = Palette.load(p.save(tmp_path / f"db16{ext}"))
    assert loaded == p


def test_loads_a_lospec_hex_file(tmp_path: Path):
    f = tmp_path / "two.hex"
    f.write_text("1a1c2c\r\nf4f4f4\n\n")
    assert Palette.load(f).hex == ["#1a1c2c", "#f4f4f4"]


def test_loads_a_gimp_palette_with_name_and_comments(tmp_path: Path):
    f = tmp_path / "x.gpl"
    f.write_text("GIMP Palette\nName: Mine\nColumns: 4\n# comment\n  0   0   0\tBlack\n255 255 255 White\n")
    p = Palette.load(f)
    assert p.name == "Mine" and p.hex == ["#000000", "#ffffff"]


def test_unreadable_palette_file_says_which_file(tmp_path: Path):
    with pytest.raises(PaletteError, match=r"missing\.hex"):
        resolve_palette(str(tmp_path / "missing.hex"))
    binary = tmp_path / "bin.hex"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(PaletteError, match=r"bin\.hex"):
        Palette.load(binary)


def test_gpl_with_bad_line_names_the_line(tmp_path: Path):
    f = tmp_path / "bad.gpl"
    f.write_text("GIMP Palette\n0 0 0\nred green blue\n")
    with pytest.raises(PaletteError, match="line 3"):
        Palette.load(f)


def test_palette_is_immutable():
    p = Palette.preset("gameboy")
    with pytest.raises(ValueError):
        p.colors[0, 0] = 1


def test_median_cut_splits_equal_clusters_at_the_gap():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(c, 1.0, (500, 3)) for c in ([0, 0, 0], [80, 10, 40])])
    centers = median_cut(pts.astype(np.float32), 2)
    assert sorted(np.round(centers[:, 0] / 10).astype(int).tolist()) == [0, 8]


def test_fit_palette_is_deterministic_and_finds_the_colours():
    rng = np.random.default_rng(3)
    truth = np.array([[20, 20, 20], [200, 30, 30], [30, 180, 60], [240, 240, 200]], np.uint8)
    pixels = truth[rng.integers(0, 4, 50_000)]
    lab = rgb_to_lab(pixels)
    a = fit_palette(lab, 4)
    b = fit_palette(lab, 4)
    np.testing.assert_array_equal(a, b)
    found = {tuple(c) for c in np.round(a).astype(int).tolist()}
    assert found == {tuple(c) for c in np.round(rgb_to_lab(truth)).astype(int).tolist()}


def test_fit_palette_returns_fewer_colours_for_a_plainer_input():
    lab = rgb_to_lab(np.array([[0, 0, 0]] * 100 + [[255, 255, 255]] * 100, np.uint8))
    assert len(fit_palette(lab, 16)) == 2


def test_plot_draws_swatches():
    import matplotlib

    matplotlib.use("Agg")
    fig = Palette.preset("pico-8").plot()
    assert fig.axes and "pico-8" in fig.axes[0].get_title()


def test_html_swatches_show_every_colour():
    html = Palette.preset("gameboy")._repr_html_()
    assert all(h in html for h in Palette.preset("gameboy").hex)
