"""A character from Luma against the fake: design with Photon, pick, animate with Ray (a
different clip per action), one sprite set; a restart, a re-run, a refused action, bad
input, and the key never saved."""

from __future__ import annotations

import asyncio
import hashlib

import numpy as np
import pytest

import pixelnb
from conftest import SHARED, TEST_KEY
from media import encode
from pixelnb import OptionError, RequestError
from pixelnb.jobs import ACTIONS, Design, animate, design
from pixelnb.testing import FakeLuma
from pixelnb.testing.sprites import load_sprite, sprite_clip

SPRITES = SHARED / "sprites"
PIXEL = {"size": 32, "colors": 10}


@pytest.fixture(scope="module")
def action_clips(tmp_path_factory):
    """What the fake "animates" per action word: real sprites on a plain backdrop, 24 fps."""
    d = tmp_path_factory.mktemp("actions")
    out = {}
    for word, folder in (("idle", "mr_gasghost"), ("walking", "mr_human_run"), ("running", "mr_thief_run")):
        clip = sprite_clip(load_sprite(SPRITES / folder), "solid", seed=5)
        out[word] = encode(d / f"{word}.mp4", clip.frames, fps=24)
    return out


@pytest.fixture
def studio_fake(action_clips):
    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.15, videos=action_clips) as fake:
        yield fake


def make(make_manager, fake, tmp_path):
    return make_manager(tmp_path / "jobs.sqlite3", base_url=fake.base_url)


def test_design_pick_animate_set_and_exports(studio_fake, make_manager, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    m = make(make_manager, studio_fake, tmp_path)
    knight = design("a knight in silver armour", n=3, manager=m, pixel={"size": 24})
    assert isinstance(knight, Design) and len(knight) == 3
    candidates = knight.result(30)
    assert studio_fake.creates == 3 and all(isinstance(c, pixelnb.Sprite) for c in candidates)
    pictures = {hashlib.sha256(c.indices.tobytes()).hexdigest() for c in candidates}
    assert len(pictures) == 3, "each candidate is its own generation"
    assert all(c.transparent == 0 for c in candidates)  # pixelated as the sprite will be
    assert knight._repr_html_().count("<img") == 3
    set_job = animate(knight.pick(1), actions=("idle", "walk", "run"), manager=m, pixel=PIXEL)
    assert set_job.generations == 3
    hero = set_job.result(60)
    assert studio_fake.creates == 6 and not set_job.failed
    assert list(hero) == ["idle", "walk", "run"]
    palettes = {tuple(hero[a].palette.hex) for a in hero}
    assert len(palettes) == 1 and hero.transparent == 0
    # each action was an image-to-video of the picked candidate, with its own prompt
    for action, job in set_job.jobs.items():
        sent = job.request.to_api()
        assert sent["keyframes"]["frame0"] == {"type": "image", "url": knight.jobs[1].video_url}
        assert "a knight in silver armour" in sent["prompt"] and sent["loop"] is True
        assert ACTIONS[action].split(",")[1].strip() in sent["prompt"]
    hero.save(tmp_path / "knight.png")
    hero.save(tmp_path / "knight.tres")
    rec = pixelnb.provenance(tmp_path / "knight.tres")
    assert rec["animations"]["walk"]["generation"]["id"] == set_job.jobs["walk"].luma_id
    first = (tmp_path / "knight.png").read_bytes()

    # A kernel restart, then the whole notebook again: nothing is paid for twice.
    m.close()
    again = make(make_manager, studio_fake, tmp_path)
    knight2 = design("a knight in silver armour", n=3, manager=again, pixel={"size": 24})
    hero2 = animate(knight2.pick(1), actions=("idle", "walk", "run"), manager=again, pixel=PIXEL).result(60)
    assert studio_fake.creates == 6
    hero2.save(tmp_path / "knight2.png")
    assert (tmp_path / "knight2.png").read_bytes() == first
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert TEST_KEY.encode() not in f.read_bytes(), f"the key is in {f.name}"


def test_an_interrupted_design_resumes_without_new_creates(studio_fake, make_manager, tmp_path):
    m = make(make_manager, studio_fake, tmp_path)
    design("a wizard with a tall hat", n=2, manager=m)
    m.close()  # the kernel dies while both are on their way
    m2 = make(make_manager, studio_fake, tmp_path)
    for job in m2.resume():
        job.result(30)
    assert studio_fake.creates == 2
    design("a wizard with a tall hat", n=2, manager=m2).result(30)
    assert studio_fake.creates == 2


def test_a_refused_action_leaves_the_others_and_a_retry_pays_for_it_alone(
    studio_fake, make_manager, tmp_path
):
    m = make(make_manager, studio_fake, tmp_path)
    url = "https://example.org/knight.png"
    actions = {"idle": ACTIONS["idle"], "attack": "{character}, a forbidden move, {backdrop}"}
    set_job = animate(url, actions=actions, manager=m, pixel=PIXEL)
    hero = set_job.result(60)
    assert list(hero) == ["idle"] and list(set_job.failed) == ["attack"]
    assert "moderation" in str(set_job.failed["attack"]).lower()
    assert "finished: idle; failed: attack" in set_job.report()
    assert studio_fake.creates == 2
    set_job.retry("attack")
    with pytest.raises(pixelnb.ModerationError):
        set_job.jobs["attack"].result(30)
    assert studio_fake.creates == 3  # the refused action again, nothing else
    with pytest.raises(OptionError, match="no action 'jump'"):
        set_job.retry("jump")


def test_bad_input_is_refused_before_anything_is_paid(studio_fake, make_manager, tmp_path):
    m = make(make_manager, studio_fake, tmp_path)
    with pytest.raises(RequestError, match=r"must be a public http\(s\) URL.*local file"):
        animate(str(tmp_path / "knight.png"), manager=m)
    with pytest.raises(OptionError, match="unknown action 'dance'"):
        animate("https://example.org/k.png", actions=("idle", "dance"), manager=m)
    with pytest.raises(RequestError, match="unknown model"):
        design("a knight", model="photon-9", manager=m)
    with pytest.raises(RequestError, match="public http"):
        design("a knight", style_ref="style.png", manager=m)
    with pytest.raises(OptionError, match="n is how many"):
        design("a knight", n=0, manager=m)
    with pytest.raises(OptionError, match="pick a candidate first"):
        animate(Design("x", [], m), manager=m)
    with pytest.raises(RequestError, match="unknown model"):
        animate("https://example.org/k.png", model="ray-9", manager=m)
    assert studio_fake.creates == 0


def test_a_green_backdrop_is_asked_for_and_keyed(studio_fake, make_manager, tmp_path):
    m = make(make_manager, studio_fake, tmp_path)
    job = animate("https://example.org/k.png", actions=("idle",), background="#00ff00", manager=m)
    assert "plain solid green (#00ff00) background" in job.requests["idle"].prompt
    assert job.opts.background == (0, 255, 0)


def test_images_are_paced_by_photons_budget_not_rays(fake, monkeypatch):
    from pixelnb.luma import LumaClient

    slept: list[float] = []

    async def fake_sleep(s):
        slept.append(s)

    async def go():
        c = LumaClient(TEST_KEY, base_url=fake.base_url, creates_per_minute=3, image_creates_per_minute=5)
        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
        for _ in range(5):
            await c._pace_creates("image")
        assert slept == []  # five images fit Photon's budget though Ray's is three
        for _ in range(4):
            await c._pace_creates("video")
        assert len(slept) == 1
        await c._pace_creates("image")
        assert len(slept) == 2

    asyncio.run(go())
    assert np.all(np.array(slept) > 0)


def test_the_character_command_says_the_cost_and_asks_first(studio_fake, tmp_path):
    import os
    import subprocess
    import sys

    from pixelnb.cli import ACTION_NAMES

    assert tuple(ACTIONS) == ACTION_NAMES
    env = {
        **os.environ,
        "LUMAAI_BASE_URL": studio_fake.base_url,
        "LUMAAI_API_KEY": TEST_KEY,
        "PIXELNB_CACHE": str(tmp_path / "cache"),
    }

    def run(*args):
        cmd = [sys.executable, "-m", "pixelnb", "character", *args]
        return subprocess.run(
            cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120
        )

    out = tmp_path / "knight.png"
    args = ["a knight in silver armour", "--actions", "idle,walk", "-o", str(out), "--n", "2", "--size", "32"]
    r = run(*args)
    assert r.returncode == 2 and "ask Luma for up to 4 generations (2 Photon images, 2 Ray videos" in r.stderr
    assert "add --yes to confirm" in r.stderr and studio_fake.creates == 0
    r = run(*args, "--pick", "1", "--godot", "--yes")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(out), str(out.with_suffix(".tres"))]
    assert "balance" in r.stderr and studio_fake.creates == 4
    assert TEST_KEY not in r.stdout + r.stderr
    r = run(*args, "--pick", "1", "--yes")  # the same again: nothing new is paid for
    assert r.returncode == 0 and studio_fake.creates == 4
    r = run("a knight", "--actions", "idle,dance", "-o", str(out), "--yes")
    assert (
        r.returncode == 2 and "unknown action 'dance'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    )


def test_restyle_redraws_a_generation_luma_has_and_refuses_a_local_file(studio_fake, make_manager, tmp_path):
    from pixelnb.jobs import generate, restyle

    m = make(make_manager, studio_fake, tmp_path)
    original = generate("a cat walking in a garden", manager=m, pixel=PIXEL)
    original.result(30)
    job = restyle(original, "redrawn as 16-bit pixel art", mode="adhere_2", manager=m, pixel=PIXEL)
    sprite = job.result(30)
    assert isinstance(sprite, pixelnb.Sprite) and studio_fake.creates == 2
    (gen,) = [
        g for g in studio_fake.generations.values() if g["request"].get("generation_type") == "modify_video"
    ]
    assert gen["request"]["media"] == {"url": original.video_url} and gen["request"]["mode"] == "adhere_2"
    assert pixelnb.provenance(sprite.save(tmp_path / "r.gif"))["generation"]["kind"] == "modify_video"
    restyle(
        original.video_url, "redrawn as 16-bit pixel art", mode="adhere_2", manager=m, pixel=PIXEL
    ).result(30)
    assert studio_fake.creates == 2  # the same request again: reused
    with pytest.raises(RequestError, match="local file must be uploaded"):
        restyle(str(tmp_path / "mine.mp4"), "as pixel art", manager=m)
    with pytest.raises(RequestError, match="unknown mode"):
        restyle(original, "as pixel art", mode="wild", manager=m)
    assert studio_fake.creates == 2


def test_own_actions_get_the_character_and_the_backdrop():
    from pixelnb.jobs.character import action_prompts

    got = action_prompts({"wave": "waves one hand"}, "a knight", "#00ff00")
    assert got == {"wave": "a knight, waves one hand, plain solid green (#00ff00) background"}
    assert action_prompts(["idle"], "a knight")["idle"].startswith("a knight, standing idle")


def test_a_restart_while_the_actions_dream_pays_nothing_more(studio_fake, make_manager, tmp_path):
    m = make(make_manager, studio_fake, tmp_path)
    url = "https://example.org/knight.png"
    animate(url, actions=("idle", "walk"), manager=m, pixel=PIXEL)
    m.close()  # the kernel dies while both actions are on their way
    again = make(make_manager, studio_fake, tmp_path)
    set_job = animate(url, actions=("idle", "walk"), manager=again, pixel=PIXEL)

    async def wait():
        return await set_job

    hero = asyncio.run(wait())
    assert list(hero) == ["idle", "walk"] and studio_fake.creates == 2
