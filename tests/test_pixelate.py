from pathlib import Path

import numpy as np
import pytest

from media import encode
from pixelnb import OptionError, Palette, PaletteError, Sprite, VideoError, pixelate, sample
from pixelnb.color import delta_e2000, rgb_to_lab


def test_default_pixelate_gives_64px_16_colours(bunny):
    s = pixelate(bunny, fps=12)
    assert isinstance(s, Sprite)
    assert s.indices.shape == (64, 36, 64) and s.indices.dtype == np.uint8
    assert len(s.palette) == 16 and s.fps == 12
    assert s.indices.max() < 16


def test_same_input_gives_the_same_sprite(bunny):
    a = pixelate(bunny, size=32, colors=8, fps=6)
    b = pixelate(bunny, size=32, colors=8, fps=6)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.palette == b.palette


def test_one_palette_is_shared_by_every_frame(bunny):
    s = pixelate(bunny, size=32, colors=8, fps=6)
    used = np.unique(s.indices)
    # Colours are fitted on all frames together: most frames use most of the palette.
    per_frame = [len(np.unique(f)) for f in s.indices]
    assert len(used) == len(s.palette)
    assert np.median(per_frame) >= 6


def test_quality_is_close_to_the_area_downscaled_source(bunny):
    s = pixelate(bunny, size=64, colors=16, fps=6, hysteresis=0)
    ref = sample(bunny, fps=6, size=64)
    de = delta_e2000(rgb_to_lab(s.to_rgb()), rgb_to_lab(ref.frames))
    assert de.mean() < 6.0, de.mean()


def test_static_noisy_video_does_not_flicker(tmp_path: Path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    base = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).astype(np.int16)

    def frame(i: int) -> np.ndarray:
        noise = rng.integers(-3, 4, base.shape)
        return np.clip(base + noise, 0, 255).astype(np.uint8)

    path = encode(tmp_path / "static.mp4", frame, count=24, fps=12)
    steady = pixelate(path, size=32, colors=16)
    jumpy = pixelate(path, size=32, colors=16, hysteresis=0)
    changed = lambda s: (s.indices[1:] != s.indices[:-1]).mean()  # noqa: E731
    assert changed(steady) < 0.01
    assert changed(steady) < changed(jumpy)


def test_preset_palette_is_capped_by_the_colours_used_most(bunny):
    s = pixelate(bunny, size=32, colors=8, fps=4, palette="aap-64")
    assert len(s.palette) == 8
    aap = {tuple(c) for c in Palette.preset("aap-64").colors.tolist()}
    assert {tuple(c) for c in s.palette.colors.tolist()} <= aap


def test_small_preset_is_used_whole(bunny):
    s = pixelate(bunny, size=32, fps=4, palette="gameboy")
    assert s.palette == Palette.preset("gameboy")


def test_palette_from_hex_list_and_file(bunny, tmp_path: Path):
    colours = ["#000000", "#ffffff", "#ff0000", "#00ff00"]
    a = pixelate(bunny, size=16, fps=2, palette=colours)
    f = tmp_path / "p.hex"
    f.write_text("\n".join(c[1:] for c in colours))
    b = pixelate(bunny, size=16, fps=2, palette=str(f))
    assert a.palette.hex == colours and b.palette.hex == colours
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("dither", ["bayer2", "bayer4", "bayer8", "fs"])
def test_dithering_uses_the_palette_and_changes_the_picture(bunny, dither):
    plain = pixelate(bunny, size=32, colors=4, fps=2)
    d = pixelate(bunny, size=32, colors=4, fps=2, dither=dither)
    assert d.palette == plain.palette
    assert d.indices.max() < len(d.palette)
    assert (d.indices != plain.indices).mean() > 0.05


@pytest.mark.parametrize("downscale", ["nearest", "mode"])
def test_other_downscales(bunny, downscale):
    s = pixelate(bunny, size=32, colors=8, fps=2, downscale=downscale)
    assert s.indices.shape == (11, 18, 32)
    assert s.info["downscale"] == downscale


def test_mode_keeps_a_thin_line_that_area_blurs(tmp_path: Path):
    # A 1-px dark line every 4 px over a light ground: 'mode' keeps two flat colours,
    # 'area' averages the line into a new middle colour.
    img = np.full((64, 64, 3), 230, np.uint8)
    img[:, ::4] = 20
    path = encode(tmp_path / "lines.mp4", lambda i: img, count=4, fps=4)
    mode = pixelate(path, size=16, colors=2, downscale="mode")
    assert set(np.unique(mode.indices)) <= {0, 1}
    cells = mode.palette.colors[mode.indices[0]]
    assert (cells.mean(-1) > 150).mean() > 0.7  # the majority colour of each block wins


def test_accepts_a_clip_and_resamples_its_rate(bunny):
    clip = sample(bunny, size=96)
    s = pixelate(clip, size=48, colors=8, fps=5)
    assert s.indices.shape[1:] == (27, 48) and s.fps == 5
    assert len(s) == 27


@pytest.mark.parametrize("colors", [1, 0, 257, 2.5, "16"])
def test_colours_out_of_range(bunny, colors):
    with pytest.raises(OptionError, match="colors"):
        pixelate(bunny, colors=colors)


def test_size_above_the_source(bunny):
    with pytest.raises(OptionError, match="larger than the source"):
        pixelate(bunny, size=1000)


def test_unknown_preset_fails_before_decoding(tmp_path: Path):
    # The video does not even exist: the palette error must come first.
    with pytest.raises(PaletteError, match="pico-8"):
        pixelate(tmp_path / "missing.mp4", palette="pico8x")


@pytest.mark.parametrize(
    ("kw", "match"), [({"dither": "atkinson"}, "bayer4"), ({"downscale": "lanczos"}, "mode")]
)
def test_unknown_choices_list_the_valid_ones(bunny, kw, match):
    with pytest.raises(OptionError, match=match):
        pixelate(bunny, **kw)


def test_bad_video_error_names_the_file(tmp_path: Path):
    f = tmp_path / "broken.mp4"
    f.write_bytes(b"\0" * 1000)
    with pytest.raises(VideoError, match=r"broken\.mp4"):
        pixelate(f)


def test_progress_reports_stages_in_order(bunny):
    seen: list[str] = []
    pixelate(bunny, size=16, fps=4, progress=lambda stage, f: seen.append(stage))
    order = list(dict.fromkeys(seen))
    assert order == ["sampling", "palette", "quantizing"]


@pytest.mark.parametrize("downscale", ["nearest", "mode"])
def test_grid_auto_without_a_grid_uses_the_downscale_asked_for(bunny, downscale):
    sprite = pixelate(bunny, size=32, colors=8, fps=4, end=2.0, grid="auto", downscale=downscale)
    assert "no grid" in sprite.info["grid"] and sprite.info["downscale"] == downscale
    assert sprite.info["grid"].endswith(f"{downscale} downscale")


def test_what_info_records_is_what_was_done(bunny):
    sprite = pixelate(bunny, size=32, colors=8, fps=4, end=2.0, dither="bayer4")
    assert (sprite.info["dither"], sprite.info["downscale"]) == ("bayer4", "area")
    with pytest.raises(OptionError, match="cannot dither"):
        pixelate(bunny, size=32, downscale="mode", dither="bayer4")


def test_an_fps_above_the_videos_takes_each_frame_once_and_says_so(tmp_path):
    from media import moving_square

    clip = encode(tmp_path / "ten.mp4", moving_square, count=30, fps=10)  # 3 s at 10 fps
    s = pixelate(clip, size=24, colors=6, fps=12)
    assert len(s) == 30 and s.fps == 10  # not 36 frames with six repeats
    assert "the video has 10 fps" in s.info["fps_note"]
    assert "fps_note" not in pixelate(clip, size=24, colors=6, fps=5).info
