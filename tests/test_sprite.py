import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from pixelnb import OptionError, Palette, Sprite
from pixelnb.export import rounded_durations, sheet_layout


@pytest.fixture
def sprite() -> Sprite:
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 16, (7, 9, 13)).astype(np.uint8)
    return Sprite(idx, Palette.preset("pico-8"), fps=12)


def read_frames(path: Path) -> tuple[list[np.ndarray], list[int]]:
    with Image.open(path) as im:
        frames, durations = [], []
        for f in ImageSequence.Iterator(im):
            frames.append(np.asarray(f.convert("RGB")))
            durations.append(f.info.get("duration"))
        return frames, durations


def test_to_rgb_and_upscale(sprite):
    rgb = sprite.to_rgb()
    assert rgb.shape == (7, 9, 13, 3)
    np.testing.assert_array_equal(rgb[0, 0, 0], sprite.palette.colors[sprite.indices[0, 0, 0]])
    big = sprite.to_rgb(scale=3)
    assert big.shape == (7, 27, 39, 3)
    np.testing.assert_array_equal(big[:, ::3, ::3], rgb)


def test_index_outside_palette_is_refused():
    with pytest.raises(OptionError, match="outside the palette"):
        Sprite(np.full((1, 2, 2), 5, np.uint8), Palette.preset("gameboy"))


def test_gif_round_trip_keeps_pixels_palette_and_timing(sprite, tmp_path):
    path = sprite.save(tmp_path / "a.gif", scale=2)
    frames, durations = read_frames(path)
    assert len(frames) == 7
    np.testing.assert_array_equal(np.stack(frames), sprite.to_rgb(2))
    assert sum(durations) == pytest.approx(7 * 1000 / 12, abs=10)
    with Image.open(path) as im:
        assert im.info.get("loop") == 0
        pal = np.array(im.getpalette()[: 3 * 16]).reshape(-1, 3)
    assert {tuple(c) for c in pal.tolist()} >= {tuple(c) for c in sprite.palette.colors.tolist()}


def test_gif_keeps_the_total_time_of_12_fps():
    assert rounded_durations([1000 / 12] * 12, 10) == [80, 90, 80, 80, 90, 80, 80, 90, 80, 80, 90, 80]
    assert sum(rounded_durations([1000 / 12] * 12, 10)) == 1000


def test_png_sheet_with_aseprite_json(sprite, tmp_path):
    path = sprite.save(tmp_path / "sheet.png")
    meta = json.loads((tmp_path / "sheet.json").read_text())
    cols, rows = sheet_layout(7)
    with Image.open(path) as im:
        assert im.mode == "P" and im.size == (cols * 13, rows * 9)
        sheet = np.asarray(im.convert("RGB"))
    assert meta["meta"]["image"] == "sheet.png" and meta["meta"]["size"] == {"w": cols * 13, "h": rows * 9}
    assert len(meta["frames"]) == 7
    for i, fr in enumerate(meta["frames"]):
        r = fr["frame"]
        np.testing.assert_array_equal(
            sheet[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]], sprite.to_rgb()[i]
        )
        assert fr["duration"] in (83, 84)
    assert not list(tmp_path.glob(".*part*")), "temporary files are cleaned up"


def test_apng_round_trip(sprite, tmp_path):
    frames, durations = read_frames(sprite.save(tmp_path / "a.apng"))
    np.testing.assert_array_equal(np.stack(frames), sprite.to_rgb())
    assert sum(durations) == pytest.approx(7000 / 12, abs=2)


def test_webp_is_lossless(sprite, tmp_path):
    frames, _ = read_frames(sprite.save(tmp_path / "a.webp", scale=2))
    np.testing.assert_array_equal(np.stack(frames), sprite.to_rgb(2))


def test_folder_of_frames(sprite, tmp_path):
    out = sprite.save(tmp_path / "frames")
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files[:2]] == ["frame_000.png", "frame_001.png"] and len(files) == 7
    np.testing.assert_array_equal(np.asarray(Image.open(files[3]).convert("RGB")), sprite.to_rgb()[3])


def test_html_page_has_animation_grid_and_palette(sprite, tmp_path):
    text = sprite.save(tmp_path / "a.html").read_text()
    assert "data:image/gif;base64," in text and "data:image/png;base64," in text
    assert all(h in text for h in sprite.palette.hex)


@pytest.mark.parametrize(
    ("name", "scale", "match"),
    [
        ("a.bmp", 1, "cannot save"),
        ("a.gif", 0, "scale"),
        ("a.gif", 2.5, "scale"),
        ("no/dir/a.gif", 1, "does not exist"),
    ],
)
def test_bad_save_arguments(sprite, tmp_path, name, scale, match):
    with pytest.raises(OptionError, match=match):
        sprite.save(tmp_path / name, scale=scale)


def test_save_palette(sprite, tmp_path):
    assert Palette.load(sprite.save_palette(tmp_path / "p.gpl")) == sprite.palette


def test_notebook_display_has_an_animation_and_a_static_fallback(sprite):
    bundle = sprite._repr_mimebundle_()
    assert bundle["text/html"].startswith('<img src="data:image/gif;base64,')
    assert "image-rendering:pixelated" in bundle["text/html"]
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "Sprite(7 frames" in bundle["text/plain"]


def test_contact_sheet_tiles_frames(sprite):
    sheet = sprite.contact_sheet(columns=3, gap=1)
    assert sheet.shape == (3 * 9 + 2, 3 * 13 + 2, 3)
    np.testing.assert_array_equal(sheet[10:19, 14:27], sprite.to_rgb()[4])


def test_plot_grid(sprite):
    import matplotlib

    matplotlib.use("Agg")
    fig = sprite.plot_grid(columns=4)
    assert len([ax for ax in fig.axes if ax.images]) == 7


def test_per_frame_durations():
    s = Sprite(np.zeros((3, 2, 2), np.uint8), Palette.preset("1bit"), durations=(100, 200, 300))
    assert s.frame_durations() == [100, 200, 300]
    with pytest.raises(OptionError, match="one positive value"):
        Sprite(np.zeros((3, 2, 2), np.uint8), Palette.preset("1bit"), durations=(100, 200))
