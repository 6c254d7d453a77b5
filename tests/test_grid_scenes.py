"""Grid recovery on whole scenes (pixelnb.testing.degrade.scene), built differently from
the sprite-on-a-canvas corpus of test_grid.py: each condition family of the scene
benchmark, the failure that opened issue 11, and the API for priors and shared scales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED, encode
from pixelnb import OptionError, sample
from pixelnb.grid import MIN_CONFIDENCE, Grid, detect
from pixelnb.testing.degrade import grid_score, scene, scene_score, true_cells

SPRITES = SHARED / "sprites"


def rgba(name: str) -> list[np.ndarray]:
    files = sorted((SPRITES / name).glob("*.png"))
    assert files, f"{SPRITES / name} is missing: the tests read ../shared/sprites"
    return [np.asarray(Image.open(f).convert("RGBA")) for f in files]


def made(tmp: Path, name: str, crf: int = 26, frames: int = 6, **kw):
    sc = scene(rgba(kw.pop("sprite", "mr_human_run")), n_frames=frames, **kw)
    return sc, sample(encode(tmp / f"{name}.mp4", sc.frames, fps=12, crf=crf))


def recovered(sc, clip, grid: Grid) -> float:
    return float(np.mean([grid_score(sc, t, f, grid) for t, f in enumerate(clip.frames)]))


@pytest.mark.parametrize("background", ["flat", "gradient"])
def test_a_small_sprite_on_a_flat_scene_at_crf_28_sets_the_grid(tmp_path, background):
    """The failure that opened the issue: a 1280x720 scene, the sprite under 5 % of it,
    irregular and warped cells, zoom drift, 0.3° rotation, crf 28. Before, H.264's own
    4-pixel block edges won (pitch 4.00, confidence 0.33: a confident wrong grid)."""
    sc, clip = made(
        tmp_path,
        background,
        crf=28,
        size=(1280, 720),
        pitch=9.7,
        coverage=0.04,
        background=background,
        jitter=0.08,
        warp=2.0,
        zoom=0.004,
        angle=0.3,
        cell_noise=2.0,
        seed=3,
    )
    g = detect(clip)
    assert abs(g.pitch - 9.7) / 9.7 <= 0.02, g
    assert g.confidence >= MIN_CONFIDENCE
    assert recovered(sc, clip, g) >= 0.9


@pytest.mark.parametrize(
    ("size", "pitch", "coverage", "background", "extra"),
    [
        ((1280, 720), 12.3, 0.05, "textured", {}),  # 16:9 720p, textured ground
        ((608, 1080), 8.4, 0.3, "gradient", {}),  # 9:16 1080p
        ((1080, 1080), 11.1, 1.0, "flat", {}),  # 1:1, the sprite covers the frame
        ((1280, 720), 10.6, 0.2, "flat", {"jitter": 0.10}),  # irregular cells, ±10 %
        ((1280, 720), 9.2, 0.2, "textured", {"warp": 3.0, "zoom": 0.01, "angle": 0.5}),  # moving lines
        ((1280, 720), 6.1, 0.4, "flat", {"cell_noise": 4.0}),  # small cells, per-cell noise
        ((1920, 1080), 15.5, 0.1, "gradient", {}),  # 1080p, big cells
    ],
)
def test_each_condition_family_finds_the_pitch_and_the_cells(
    tmp_path, size, pitch, coverage, background, extra
):
    sc, clip = made(
        tmp_path, "c", size=size, pitch=pitch, coverage=coverage, background=background, seed=11, **extra
    )
    g = detect(clip)
    assert abs(g.pitch - pitch) / pitch <= 0.02, g
    got = recovered(sc, clip, g)
    # Against the ceiling of per-cell sampling on these very frames (the true grid).
    ceiling = float(np.mean([scene_score(sc, t, *true_cells(sc, t, f)) for t, f in enumerate(clip.frames)]))
    assert got >= ceiling - 0.04, (got, ceiling)


def test_no_confident_wrong_grid_on_noise_and_blocks(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.clip(rng.normal(128, 6, (6, 720, 1280, 3)), 0, 255).astype(np.uint8)  # grain only
    clip = sample(encode(tmp_path / "noise.mp4", frames, fps=12, crf=30))
    assert detect(clip).confidence < MIN_CONFIDENCE


def test_a_prior_can_be_a_pair_of_counts(tmp_path):
    _, clip = made(tmp_path, "p", size=(1280, 720), pitch=10.0, coverage=0.3, background="flat", seed=5)
    assert abs(detect(clip, cells=(128, 72)).pitch - 10.0) / 10.0 <= 0.02
    assert abs(detect(clip, cells=128).pitch - 10.0) / 10.0 <= 0.02
    with pytest.raises(OptionError, match="cells"):
        detect(clip, cells=(128,))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="cells"):
        detect(clip, cells=0)


def test_several_clips_share_one_scale_and_a_grid_can_be_reused(tmp_path):
    """Two actions of one character: the pitch and the rotation are found once, from
    both; each clip keeps its own phases. like= reuses a grid on a third clip."""
    _, run = made(
        tmp_path, "run", size=(1280, 720), pitch=9.3, coverage=0.05, background="flat", seed=21, angle=0.2
    )
    _, idle = made(
        tmp_path,
        "idle",
        sprite="mr_gasghost",
        size=(1280, 720),
        pitch=9.3,
        coverage=0.05,
        background="flat",
        seed=22,
        angle=0.2,
    )
    a, b = detect([run, idle])
    assert a.pitch == b.pitch and a.skew == b.skew and abs(a.pitch - 9.3) / 9.3 <= 0.02
    assert len(a.frame_phases) == len(run) and len(b.frame_phases) == len(idle)
    again = detect(idle, like=a)
    assert again.pitch == a.pitch and again.frame_phases == b.frame_phases


def test_the_grid_path_streams_and_reads_the_cells_detect_reads(tmp_path):
    """pixelate(path, grid="auto") no longer holds every full-size frame: a GridStream
    keeps at most its warm-up frames, and reads the same grid and cells as detect() on the
    whole clip in memory."""
    from pixelnb import pixelate
    from pixelnb.grid import GridStream

    _, clip = made(
        tmp_path,
        "s",
        frames=30,
        size=(1280, 720),
        pitch=10.4,
        coverage=0.3,
        background="textured",
        seed=8,
        angle=0.2,
        jitter=0.05,
    )
    stream = GridStream(cells=123)
    for frame in clip.frames:
        stream.push(frame)
    stream.finish()
    assert stream.peak_held <= 12 and stream.confident
    whole = detect(clip.frames[:12], cells=123)
    assert abs(stream.grid.pitch - whole.pitch) < 1e-9  # found on the same first frames
    streamed = np.stack(stream.out)
    assert streamed.shape[0] == 30
    assert abs(stream.grid.pitch - 10.4) / 10.4 <= 0.02
    # What pixelate makes from the file is what the stream read.
    sprite = pixelate(tmp_path / "s.mp4", size=123, colors=32, grid="auto", fps=12)
    assert sprite.info["downscale"] == "grid" and sprite.indices.shape[1:] == streamed.shape[1:3]
