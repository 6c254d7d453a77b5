"""Seamless loops: find_loop against made sprite cycles of known length, and clips that
never return to their start."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from media import encode
from pixelnb import OptionError, Palette, Sprite, pixelate
from pixelnb.loop import Loop, find_loop, frame_distances
from pixelnb.testing.sprites import drifting_clip, load_sprite, sprite_clip

NAMES = ("mr_human_run", "mr_player_run", "mr_thief_run", "mr_gasghost")


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(NAMES),
    backdrop=st.sampled_from(["solid", "noisy", "gradient", "textured"]),
    hold=st.integers(2, 3),
    repeats=st.floats(2.5, 3.5),
    seed=st.integers(0, 10_000),
    background=st.sampled_from(["keep", "auto"]),
)
def test_the_found_loop_is_the_cycle_or_a_multiple(
    tmp_path_factory, name, backdrop, hold, repeats, seed, background
):
    sprite_frames = load_sprite(SHARED / "sprites" / name)
    clip = sprite_clip(sprite_frames, backdrop, hold=hold, repeats=repeats, seed=seed, scale=5.0)
    path = encode(tmp_path_factory.mktemp("loop") / "c.mp4", clip.frames, fps=24, crf=24)
    sprite = pixelate(path, size=48, background=background)
    loop = sprite.find_loop()
    assert loop, loop
    assert len(loop) % clip.cycle == 0, (loop, clip.cycle)


@pytest.mark.parametrize("backdrop", ["solid", "textured"])
def test_a_clip_that_never_returns_does_not_loop(tmp_path, backdrop):
    clip = drifting_clip(
        load_sprite(SHARED / "sprites" / "mr_thief_run"), backdrop, hold=2, seed=4, scale=5.0
    )
    path = encode(tmp_path / "d.mp4", clip.frames, fps=24, crf=24)
    loop = pixelate(path, size=48).find_loop()
    assert not loop and loop.score > 1.0


def test_loop_auto_trims_and_records_it(tmp_path):
    clip = sprite_clip(load_sprite(SHARED / "sprites" / "mr_player_run"), "solid", hold=3, repeats=3, seed=2)
    path = encode(tmp_path / "c.mp4", clip.frames, fps=24, crf=22)
    whole = pixelate(path, size=40)
    looped = pixelate(path, size=40, loop="auto")
    info = looped.info["loop"]
    assert len(looped) == info["stop"] - info["start"] and len(looped) % clip.cycle == 0
    np.testing.assert_array_equal(looped.indices, whole.indices[info["start"] : info["stop"]])
    assert looped.info["timestamps"] == whole.info["timestamps"][info["start"] : info["stop"]]


def test_loop_auto_on_a_clip_that_does_not_loop_keeps_it_whole(tmp_path):
    clip = drifting_clip(load_sprite(SHARED / "sprites" / "mr_thief_run"), "solid", hold=2, seed=9, scale=5.0)
    path = encode(tmp_path / "d.mp4", clip.frames, fps=24, crf=24)
    s = pixelate(path, size=40, loop="auto")
    assert s.info["loop"] is None and s.info["loop_score"] > 1
    assert len(s) == len(clip.frames)


def test_loop_auto_on_a_two_frame_clip_is_a_clear_error(tmp_path):
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    frames[1, 8:16] = 200
    path = encode(tmp_path / "two.mp4", frames, fps=2)
    with pytest.raises(OptionError, match=r"loop='auto' needs at least 5 frames"):
        pixelate(path, size=16, loop="auto")


def test_find_loop_refuses_too_few_frames_and_bad_lengths():
    s = Sprite(np.zeros((3, 2, 2), np.uint8), Palette.preset("gameboy"))
    with pytest.raises(OptionError, match="needs 5 frames"):
        s.find_loop()
    with pytest.raises(OptionError, match="min_frames"):
        find_loop(s, min_frames=1)


def test_a_loop_with_a_bad_seam_is_false_and_a_good_one_true():
    assert bool(Loop(0, 8, 0.2)) and not bool(Loop(0, 8, 1.7))
    assert len(Loop(3, 11, 0.0)) == 8


def test_frame_distances_count_clear_against_opaque():
    idx = np.ones((2, 2, 2), np.uint8)
    idx[1, 0, 0] = 0
    s = Sprite(idx, Palette.from_hex(["#ffffff", "#ffffff"]), transparent=0)
    d = frame_distances(s)
    assert d[0, 0] == 0 and d[0, 1] > 10  # same colour, but one pixel went clear


def test_pingpong_plays_back_and_forth_once_each_end():
    idx = np.arange(4, dtype=np.uint8)[:, None, None].repeat(2, 1).repeat(2, 2)
    s = Sprite(idx, Palette.preset("gameboy"), fps=10).pingpong()
    assert [int(f[0, 0]) for f in s.indices] == [0, 1, 2, 3, 2, 1]
    assert s.info["pingpong"] is True
