"""Sprite sets: several animations of one character (real sprites from ../shared/sprites,
painted as AI pixel art and encoded as H.264) with one palette, one grid scale and one
anchor; saved as one sheet with Aseprite tags, as a Godot 4 SpriteFrames resource parsed
back here, and as a GIF per animation."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixelnb
from conftest import SHARED
from media import encode
from pixelnb import OptionError, Sprite, SpriteSet
from pixelnb.palette import Palette
from pixelnb.testing.sprites import load_sprite, sprite_clip

SPRITES = SHARED / "sprites"
OPTS = {"size": 48, "colors": 12, "grid": "auto", "loop": "auto"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """idle (the ghost, a 9-frame cycle) and run (the runner, 12) on one plain backdrop at
    24 fps, and the runner again at 30 fps."""
    d = tmp_path_factory.mktemp("set")
    out = {}
    for name, folder, fps in (
        ("idle", "mr_gasghost", 24),
        ("run", "mr_human_run", 24),
        ("run30", "mr_human_run", 30),
    ):
        clip = sprite_clip(load_sprite(SPRITES / folder), "solid", seed=3)
        out[name] = encode(d / f"{name}.mp4", clip.frames, fps=fps)
        out[f"{name}_cycle"] = clip.cycle
    return out


@pytest.fixture(scope="module")
def hero(videos) -> SpriteSet:
    return pixelnb.pixelate_set({"idle": videos["idle"], "run": videos["run"]}, **OPTS)


def test_one_palette_one_size_one_grid_scale(hero, videos):
    idle, run = hero["idle"], hero["run"]
    assert (
        np.array_equal(idle.palette.colors, run.palette.colors) and idle.transparent == run.transparent == 0
    )
    assert (idle.width, idle.height) == (run.width, run.height) == (hero.width, hero.height)
    assert len(hero.palette) - 1 <= 12
    pitches = {re.search(r"pitch=([\d.]+)", s.info["grid"]).group(1) for s in (idle, run)}
    assert len(pitches) == 1, "the animations must share one grid scale"
    # every colour of the palette is used by some animation (it was fitted on them all)
    used = np.union1d(np.unique(idle.indices), np.unique(run.indices))
    assert set(used) == set(range(len(hero.palette)))


def test_anchor_bottom_puts_the_feet_on_one_baseline_and_centres_them(hero):
    for sprite in hero.values():
        seen = sprite.opaque().any(axis=0)
        rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
        assert rows[-1] == sprite.height - 1  # the lowest opaque row is the bottom row
        assert abs((cols[0] + cols[-1] + 1) / 2 - sprite.width / 2) <= 1  # centred
    centred = SpriteSet(dict(hero), anchor="center", pad=2)
    for sprite in centred.values():
        assert not sprite.opaque()[:, :2].any() and not sprite.opaque()[:, -2:].any()
        assert centred.width == hero.width + 4


def test_each_animation_is_trimmed_to_its_cycle(hero, videos):
    for name in ("idle", "run"):
        assert len(hero[name]) % videos[f"{name}_cycle"] == 0, name
        assert hero[name].info["loop"]


def test_the_sheet_json_has_a_tag_and_durations_per_animation(hero, tmp_path):
    hero.save(tmp_path / "hero.png", scale=2)
    data = json.loads((tmp_path / "hero.json").read_text())
    tags = data["meta"]["frameTags"]
    assert [(t["name"], t["from"], t["to"]) for t in tags] == [
        ("idle", 0, len(hero["idle"]) - 1),
        ("run", len(hero["idle"]), len(hero["idle"]) + len(hero["run"]) - 1),
    ]
    assert data["meta"]["transparent"] == 0 and data["meta"]["palette"] == hero.palette.hex
    sheet = np.asarray(Image.open(tmp_path / "hero.png"))
    assert Image.open(tmp_path / "hero.png").info["transparency"] == 0
    frames = data["frames"]
    assert sum(f["duration"] for f in frames[: len(hero["idle"])]) == pytest.approx(
        1000 * len(hero["idle"]) / 24, abs=1
    )
    for tag in tags:
        sprite = hero[tag["name"]]
        for i, f in enumerate(frames[tag["from"] : tag["to"] + 1]):
            r = f["frame"]
            cut = sheet[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]
            assert np.array_equal(cut[::2, ::2], sprite.indices[i]), (tag["name"], i)


def parse_tres(text: str) -> dict:
    """A small reader of the Godot 4 text resource pixelnb writes: the texture path, every
    AtlasTexture region by id, and the animations with their frames."""
    assert text.startswith('[gd_resource type="SpriteFrames"') and "format=3" in text.splitlines()[0]
    ext = re.search(r'\[ext_resource type="Texture2D" path="([^"]+)" id="([^"]+)"\]', text)
    regions = {
        m.group(1): (tuple(int(v) for v in m.group(3).split(", ")), m.group(2))
        for m in re.finditer(
            r'\[sub_resource type="AtlasTexture" id="([^"]+)"\]\natlas = ExtResource\("([^"]+)"\)\n'
            r"region = Rect2\(([^)]*)\)",
            text,
        )
    }
    body = text.split("[resource]\nanimations = ", 1)[1]
    anims = []
    for m in re.finditer(
        r'\{\n"frames": \[(.*?)\],\n"loop": (true|false),\n"name": &"([^"]+)",\n"speed": ([\d.]+)\n\}',
        body,
        re.S,
    ):
        frames = re.findall(r'"duration": ([\d.]+),\n"texture": SubResource\("([^"]+)"\)', m.group(1))
        anims.append(
            {"name": m.group(3), "loop": m.group(2) == "true", "speed": float(m.group(4)),
             "frames": [(float(d), sub) for d, sub in frames]}
        )  # fmt: skip
    load_steps = int(re.search(r"load_steps=(\d+)", text).group(1))
    return {"texture": ext.group(1), "ext_id": ext.group(2), "regions": regions, "animations": anims,
            "load_steps": load_steps}  # fmt: skip


def test_the_godot_resource_reads_back_to_the_sheet(hero, tmp_path):
    hero.save(tmp_path / "hero.tres", res_dir="res://sprites/")
    tres = parse_tres((tmp_path / "hero.tres").read_text())
    assert tres["texture"] == "res://sprites/hero.png"
    assert tres["load_steps"] == len(tres["regions"]) + 2
    sheet = np.asarray(Image.open(tmp_path / "hero.png"))
    assert [a["name"] for a in tres["animations"]] == ["idle", "run"]
    for anim in tres["animations"]:
        sprite = hero[anim["name"]]
        assert anim["speed"] == pytest.approx(24.0, rel=1e-3) and anim["loop"]
        assert len(anim["frames"]) == len(sprite)
        for i, (duration, sub) in enumerate(anim["frames"]):
            (x, y, w, h), atlas = tres["regions"][sub]
            assert atlas == tres["ext_id"] and duration == pytest.approx(1.0, abs=0.05)
            assert np.array_equal(sheet[y : y + h, x : x + w], sprite.indices[i])
    assert pixelnb.provenance(tmp_path / "hero.tres")["kind"] == "set"
    assert set(pixelnb.provenance(tmp_path / "hero.tres")["animations"]) == {"idle", "run"}


def test_a_folder_gets_one_gif_per_animation(hero, tmp_path):
    hero.save(tmp_path / "gifs")
    for name, sprite in hero.items():
        with Image.open(tmp_path / "gifs" / f"{name}.gif") as im:
            assert im.info["transparency"] == 0 and im.size == (hero.width, hero.height)
            shown = 0
            for k in range(im.n_frames):  # Pillow merges repeated frames, adding their times
                im.seek(k)
                shown += im.info["duration"]
        assert shown == pytest.approx(sum(sprite.frame_durations()), abs=10), name


def test_a_set_from_sprites_must_share_a_palette():
    pal = Palette.from_hex(["#000000", "#ff0000", "#00ff00"])
    a = Sprite(np.ones((2, 4, 4), np.uint8), pal, transparent=0)
    other = Sprite(np.ones((2, 4, 4), np.uint8), Palette.from_hex(["#000000", "#0000ff"]), transparent=0)
    with pytest.raises(OptionError, match="do not share a palette"):
        SpriteSet({"idle": a, "walk": other})
    with pytest.raises(OptionError, match="at least one animation"):
        SpriteSet({})
    opaque = Sprite(np.ones((2, 4, 6), np.uint8), pal)
    with pytest.raises(OptionError, match="no transparent background"):
        SpriteSet({"a": Sprite(np.ones((2, 4, 4), np.uint8), pal), "b": opaque})
    assert SpriteSet({"a": a, "b": a}, anchor="none")["b"].width == 4


def test_bad_sets_get_clear_errors_before_any_decoding(videos):
    with pytest.raises(OptionError, match="at least one animation"):
        pixelnb.pixelate_set({})
    with pytest.raises(OptionError, match=r"frame rates differ \(idle 24 fps, run 30 fps\); give fps=12"):
        pixelnb.pixelate_set({"idle": videos["idle"], "run": videos["run30"]}, size=32)
    with pytest.raises(OptionError, match="unknown anchor"):
        pixelnb.pixelate_set({"idle": videos["idle"]}, anchor="feet")
    with pytest.raises(OptionError, match="colors must be"):
        pixelnb.pixelate_set({"idle": videos["idle"]}, colors=1)


def test_sources_at_other_rates_join_when_fps_is_given(videos):
    both = pixelnb.pixelate_set({"idle": videos["idle"], "run": videos["run30"]}, size=32, colors=8, fps=12)
    assert both["idle"].fps == both["run"].fps == 12


def test_the_set_shows_a_player_per_animation(hero, monkeypatch):
    import IPython.display

    from pixelnb import Player

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    hero._ipython_display_()
    titles, players = shown[0::2], shown[1::2]
    assert ["<b>idle</b>" in t.data for t in titles] == [True, False]
    assert "<b>run</b>" in titles[1].data
    assert all(isinstance(p, Player) for p in players) and [p.n_frames for p in players] == [
        len(hero["idle"]),
        len(hero["run"]),
    ]
    assert "idle" in hero._repr_html_() and hero._repr_html_().count("<img") == 2


def test_the_sheet_command(videos, tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pixelnb", "sheet", *args], capture_output=True, text=True
        )

    out = tmp_path / "hero.png"
    r = run(f"idle={videos['idle']}", f"run={videos['run']}", "-o", str(out), "--godot", "--size", "48",
            "--colors", "12", "--grid", "auto", "--loop", "auto")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(out), str(out.with_suffix(".tres")), str(out.with_suffix(".json"))]
    assert parse_tres(out.with_suffix(".tres").read_text())["texture"] == "res://hero.png"
    for bad, message in (
        (["idle", "-o", str(out)], "is not NAME=VIDEO"),
        ([f"idle={videos['idle']}", "-o", str(tmp_path / "x.gif")], "not '.gif'"),
        ([f"idle={videos['idle']}", f"idle={videos['run']}", "-o", str(out)], "'idle' is given twice"),
        (["-o", str(out)], "the following arguments are required: NAME=VIDEO"),
    ):
        r = run(*bad)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
