"""Grid recovery on degraded real sprites (../shared/sprites), encoded as H.264."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED, encode
from pixelnb import OptionError, pixelate, sample
from pixelnb.grid import MIN_CONFIDENCE, Grid, detect
from pixelnb.testing.degrade import cell_score, composite, degrade

SPRITES = SHARED / "sprites"
NAMES = ["mr_player_run", "mr_human_run", "mr_thief_run", "mr_gasghost"]
BACKGROUND = (40, 40, 60)
# (scale, offset x, offset y, rotation °): non-integer pitches from 5x to 12x.
MILD = [(5.4, 2.1, 3.3, 0.3), (7.3, 4.9, 1.2, -0.45), (9.6, 0.7, 6.1, 0.2), (11.7, 8.2, 3.9, -0.15)]


def sprite_frames(name: str) -> list[np.ndarray]:
    files = sorted((SPRITES / name).glob("*.png"))
    assert files, f"{SPRITES / name} is missing: the tests read ../shared/sprites"
    return [composite(np.asarray(Image.open(f).convert("RGBA")), BACKGROUND) for f in files]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[dict]:
    """Eight clips: each sprite mild (offset, rotation, blur, grain) and hard (plus bent,
    drifting grid lines), looped three times and encoded with H.264 through PyAV."""
    tmp = tmp_path_factory.mktemp("grid")
    out = []
    for name, (scale, ox, oy, angle) in zip(NAMES, MILD, strict=True):
        frames = sprite_frames(name) * 3
        for hard in (False, True):
            extra = {"bend": 0.3 * scale, "drift": (0.15, 0.1)} if hard else {}
            degraded = np.stack(
                [
                    degrade(
                        f,
                        scale=scale,
                        offset=(ox, oy),
                        angle=angle,
                        blur=0.8,
                        grain=4.0,
                        frame_index=i,
                        **extra,
                    )
                    for i, f in enumerate(frames)
                ]
            )
            path = encode(tmp / f"{name}-{'hard' if hard else 'mild'}.mp4", degraded, fps=12, crf=20)
            out.append({"name": name, "hard": hard, "scale": scale, "path": path, "sprites": frames})
    return out


def recovered(item: dict) -> tuple[Grid, float]:
    clip = sample(item["path"])
    grid = detect(clip)
    cells = grid.cells(clip)
    return grid, float(np.mean([cell_score(c, s) for c, s in zip(cells, item["sprites"], strict=True)]))


def test_cells_are_recovered_and_the_pitch_found(corpus):
    results = [(item, *recovered(item)) for item in corpus]
    pitch_ok = [abs(g.pitch - it["scale"]) / it["scale"] <= 0.02 for it, g, _ in results]
    mild = [s for it, _, s in results if not it["hard"]]
    hard = [s for it, _, s in results if it["hard"]]
    print(
        f"\ncells within dE 5: mild {np.mean(mild):.3f}, hard {np.mean(hard):.3f}; pitch within 2 %: "
        f"{sum(pitch_ok)}/{len(pitch_ok)}"
    )
    assert sum(pitch_ok) >= 0.9 * len(pitch_ok)
    assert np.mean(mild) >= 0.95 and np.mean(hard) >= 0.92
    assert all(g.confidence >= MIN_CONFIDENCE for _, g, _ in results)


@pytest.mark.parametrize(
    "clip",
    ["bigbuckbunny_720p.mp4", "city_timelapse_cc0.mp4", "cockatoo_720p_yuv420p.mp4", "dog_phone_720p.mp4"],
)
def test_real_footage_has_no_grid(clip):
    frames = sample(SHARED / "clips" / clip, frames=8)
    assert detect(frames).confidence < MIN_CONFIDENCE
    assert detect(frames, cells=64).confidence < MIN_CONFIDENCE


def test_pixelate_uses_the_grid_when_it_is_sure(corpus):
    item = corpus[1]  # human_run, mild
    sprite = pixelate(item["path"], size=64, colors=8, grid="auto")
    assert "one colour per cell" in sprite.info["grid"]
    # The output follows the detected grid, not the requested size.
    h, w = item["sprites"][0].shape[:2]
    assert abs(sprite.height - (h + 6)) <= 1 and abs(sprite.width - (w + 6)) <= 1
    exact = pixelate(item["path"], size=(30, 40), colors=8, grid="auto")
    assert (exact.width, exact.height) == (30, 40)


def test_pixelate_falls_back_on_real_video(bunny):
    sprite = pixelate(bunny, size=48, colors=8, fps=4, grid="auto")
    assert sprite.info["grid"].startswith("no grid") and sprite.width == 48


def test_a_given_grid_is_used_as_is(corpus):
    item = corpus[0]
    g = Grid(pitch=item["scale"], phase_x=0.0, phase_y=0.0)
    sprite = pixelate(item["path"], size=32, colors=6, grid=g)
    assert sprite.info["grid"].startswith("Grid(pitch=5.400")


def test_bad_grid_argument(bunny):
    with pytest.raises(OptionError, match="unknown grid"):
        pixelate(bunny, grid="on")
    with pytest.raises(OptionError, match="RGB frames"):
        detect(np.zeros((4, 4)))


def test_plot_draws_the_lines(corpus):
    import matplotlib

    matplotlib.use("Agg")
    clip = sample(corpus[0]["path"], frames=1)
    fig = detect(clip).plot(clip.frames[0])
    assert len(fig.axes[0].lines) > 20


def test_convert_grid_option(corpus, tmp_path: Path):
    from pixelnb.cli import main

    out = tmp_path / "g.png"
    assert (
        main(["convert", str(corpus[2]["path"]), "-o", str(out), "--grid", "auto", "--fps", "12", "-q"]) == 0
    )
    assert out.is_file()
