"""Transparent backgrounds: pixelate(background=...) against made clips whose truth is known
(real sprites from ../shared/sprites over solid, noisy, gradient and textured backdrops,
painted as AI "pixel art" and encoded as H.264)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from media import encode
from pixelnb import OptionError, Palette, Sprite, pixelate
from pixelnb.matte import parse_background
from pixelnb.testing.sprites import BACKDROPS, load_sprite, mask_scores, sprite_clip

SPRITES = SHARED / "sprites"


@pytest.fixture(scope="module")
def runner() -> list[np.ndarray]:
    return load_sprite(SPRITES / "mr_human_run")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, runner):
    """One clip per backdrop (seed 11, not a seed the matte was tuned on)."""
    tmp = tmp_path_factory.mktemp("matte")
    out = {}
    for i, kind in enumerate(BACKDROPS):
        clip = sprite_clip(runner, kind, scale=6.7, seed=11 + i, hold=2, repeats=1.0)
        out[kind] = (encode(tmp / f"{kind}.mp4", clip.frames, fps=24, crf=23), clip)
    return out


@pytest.mark.parametrize("kind", BACKDROPS)
def test_auto_background_recovers_the_sprites_own_alpha(made, kind):
    path, clip = made[kind]
    sprite = pixelate(path, size=clip.cells, grid="auto", background="auto")
    assert sprite.transparent == 0
    scores = mask_scores(sprite.opaque(), clip.alpha)
    assert scores["iou"] >= (0.9 if kind == "textured" else 0.97), scores
    assert scores["flicker"] < 0.01


def test_the_palette_is_fitted_on_the_subject_alone(made):
    """No palette colour is spent on the backdrop: every opaque colour is near a sprite colour."""
    from pixelnb.color import rgb_to_lab

    path, clip = made["gradient"]
    sprite = pixelate(path, size=clip.cells, grid="auto", background="auto", colors=8)
    opaque_colours = sprite.palette.colors[1:]
    sprite_colours = np.unique(
        np.concatenate([f[f[..., 3] > 0][:, :3] for f in load_sprite(SPRITES / "mr_human_run")]), axis=0
    )
    d = np.sqrt(((rgb_to_lab(opaque_colours)[:, None] - rgb_to_lab(sprite_colours)[None]) ** 2).sum(-1)).min(
        1
    )
    assert d.max() < 12, d


def test_a_key_colour_is_keyed_out_and_the_rest_stays(tmp_path, runner):
    green = (0, 255, 0)
    frames = []
    for i in range(8):
        img = np.zeros((120, 120, 3), np.uint8)
        img[:] = green
        rgba = runner[i % len(runner)]
        big = rgba.repeat(3, 0).repeat(3, 1)
        on = big[..., 3] > 0
        img[12 : 12 + big.shape[0], 30 : 30 + big.shape[1]][on] = big[..., :3][on]
        frames.append(img)
    path = encode(tmp_path / "green.mp4", np.stack(frames), fps=12)
    sprite = pixelate(path, size=40, background="#00ff00")
    alpha = np.zeros((8, 40, 40), bool)
    for i in range(8):
        a = runner[i % len(runner)][..., 3] > 0
        alpha[i, 4 : 4 + a.shape[0], 10 : 10 + a.shape[1]] = a
    assert mask_scores(sprite.opaque(), alpha)["iou"] > 0.9
    assert sprite.info["matte"]["background"] == "#00ff00"


def test_enclosed_background_goes_only_where_it_matches(tmp_path):
    """A ring on a plain backdrop: the hole (backdrop colour) is cleared, a dark patch inside
    the ring that is not the backdrop stays opaque."""
    bg, ring, patch = (40, 90, 200), (230, 200, 40), (30, 30, 30)
    img = np.zeros((96, 96, 3), np.uint8)
    img[:] = bg
    yy, xx = np.mgrid[0:96, 0:96]
    r = np.hypot(yy - 48, xx - 48)
    img[(r >= 20) & (r < 32)] = ring
    img[60:68, 44:52] = bg  # not reachable from the border: the ring is closed around it
    img[36:44, 44:52] = patch
    path = encode(tmp_path / "ring.mp4", np.stack([img] * 6), fps=12)
    sprite = pixelate(path, size=24, background="auto", hysteresis=0)
    opaque = sprite.opaque()[0]
    assert not opaque[12, 12], "the hole at the centre is backdrop"
    assert opaque[10, 12], "the patch that is not backdrop stays"
    assert not opaque[0, 0] and opaque[12, 4], "outside clear, ring opaque"


def test_no_isolated_specks_and_no_fringe(made):
    """Every opaque cell touches another; edge cells are the sprite's colours, not blends."""
    path, clip = made["solid"]
    sprite = pixelate(path, size=clip.cells, background="auto")
    op = sprite.opaque()
    padded = np.pad(op, ((0, 0), (1, 1), (1, 1)))
    near = sum(
        np.roll(np.roll(padded, dy, 1), dx, 2)[:, 1:-1, 1:-1]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if dy or dx
    )
    assert not (op & (near == 0)).any()
    backdrop = np.array(clip.backdrop, float)
    rgb = sprite.to_rgb().astype(float)
    edge = op & (near < 8)
    # A fringe cell would sit between the backdrop and a sprite colour; none is close to it.
    assert np.sqrt(((rgb[edge] - backdrop) ** 2).sum(-1)).min() > 40


def test_a_cell_does_not_blink_while_the_source_is_still(tmp_path, runner):
    """One sprite frame held for 24 video frames with grain: the matte never changes."""
    clip = sprite_clip(runner[:1], "noisy", scale=5.5, hold=24, repeats=1.0, seed=5, noise=10)
    path = encode(tmp_path / "still.mp4", clip.frames, fps=24, crf=26)
    sprite = pixelate(path, size=clip.cells, background="auto")
    op = sprite.opaque()
    assert (op[1:] == op[:-1]).all()


def test_to_rgba_crop_and_every_export_keep_the_alpha(tmp_path, made):
    from PIL import Image, ImageSequence

    path, clip = made["solid"]
    sprite = pixelate(path, size=clip.cells, grid="auto", background="auto").crop(pad=1)
    rgba = sprite.to_rgba()
    assert rgba.shape == (*sprite.indices.shape, 4)
    assert ((rgba[..., 3] == 0) == (sprite.indices == sprite.transparent)).all()
    # crop: the union of opaque cells over all frames, plus one clear cell around
    op = sprite.opaque()
    assert not op[:, 0].any() and not op[:, -1].any() and op[:, 1].any() and op[:, -2].any()
    h, w = clip.alpha.any(0).any(1).sum(), clip.alpha.any(0).any(0).sum()
    assert abs(sprite.height - (h + 2)) <= 1 and abs(sprite.width - (w + 2)) <= 1
    want = rgba[..., 3] > 0
    for ext in (".gif", ".png", ".apng", ".webp"):
        out = sprite.save(tmp_path / f"s{ext}")
        with Image.open(out) as im:
            frames = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]
        if ext == ".png":  # the sheet: frame i at its cell
            sheet = frames[0]
            cols = sheet.shape[1] // sprite.width
            got = np.stack(
                [
                    sheet[
                        (i // cols) * sprite.height : (i // cols + 1) * sprite.height,
                        (i % cols) * sprite.width : (i % cols + 1) * sprite.width,
                    ]
                    for i in range(len(sprite))
                ]
            )
            np.testing.assert_array_equal(got[..., 3] > 0, want, err_msg=ext)
        else:  # animations merge a frame that repeats the one before into it
            np.testing.assert_array_equal(_runs(np.stack(frames)[..., 3] > 0), _runs(want), err_msg=ext)


def _runs(masks: np.ndarray) -> np.ndarray:
    """The masks with each repeat of the one before dropped."""
    keep = [0, *(i for i in range(1, len(masks)) if not np.array_equal(masks[i], masks[i - 1]))]
    return masks[keep]


def test_a_transparent_gif_replaces_each_frame_whole(tmp_path):
    """Disposal 2: a pixel clear in frame 2 shows clear, not frame 1's colour."""
    from PIL import Image, ImageSequence

    idx = np.ones((2, 4, 4), np.uint8)
    idx[1, 1, 1] = 0
    s = Sprite(idx, Palette.from_hex(["#000000", "#ff0000"]), fps=5, transparent=0)
    out = s.save(tmp_path / "a.gif")
    with Image.open(out) as im:
        frames = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]
    assert frames[1][1, 1, 3] == 0 and frames[0][1, 1, 3] == 255


@pytest.mark.parametrize(
    "value", ["chartreuse-ish", "#12345", (0, 256, 0), (0, 255), ("0", "255", "0"), 3, True, None]
)
def test_a_background_that_is_not_a_colour_is_refused(value):
    with pytest.raises(OptionError, match="background must be"):
        parse_background(value)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(rgb=st.tuples(*[st.integers(0, 255)] * 3), form=st.sampled_from(["hex", "tuple", "list"]))
def test_every_colour_form_parses_to_the_same_key(rgb, form):
    value = {"hex": "#{:02x}{:02x}{:02x}".format(*rgb), "tuple": rgb, "list": list(rgb)}[form]
    assert parse_background(value) == rgb


def test_keep_is_todays_output(made):
    path, _ = made["solid"]
    a = pixelate(path, size=32, fps=6)
    b = pixelate(path, size=32, fps=6, background="keep")
    assert a.transparent is None and b.transparent is None
    np.testing.assert_array_equal(a.indices, b.indices)


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    colors=st.integers(2, 24),
    dither=st.sampled_from(["none", "bayer4", "fs"]),
    downscale=st.sampled_from(["area", "nearest", "mode"]),
    size=st.integers(12, 40),
)
def test_every_option_combination_keeps_a_valid_clear_index(made, colors, dither, downscale, size):
    if downscale == "mode" and dither != "none":
        return  # refused by PixelOptions (tested elsewhere)
    path, _ = made["gradient"]
    s = pixelate(
        path, size=size, colors=colors, dither=dither, downscale=downscale, background="auto", end=0.5
    )
    assert s.transparent == 0
    assert len(s.palette) <= colors + 1
    assert s.opaque().any() and (~s.opaque()).any()
    assert int(s.indices.max()) < len(s.palette)


def test_crop_without_transparency_is_the_sprite_and_pad_is_refused():
    s = Sprite(np.zeros((1, 3, 3), np.uint8), Palette.preset("gameboy"))
    assert s.crop() is s
    with pytest.raises(OptionError, match="transparent"):
        s.crop(pad=1)
    clear = Sprite(np.zeros((1, 3, 3), np.uint8), Palette.preset("gameboy"), transparent=0)
    with pytest.raises(OptionError, match="nothing to crop"):
        clear.crop()


def test_a_transparent_index_outside_the_palette_is_refused():
    with pytest.raises(OptionError, match="outside the palette"):
        Sprite(np.zeros((1, 2, 2), np.uint8), Palette.preset("gameboy"), transparent=9)
