"""`pixelnb generate`, `pixelnb jobs` and `pixelnb fake-luma` as a person runs them."""

import os
import subprocess
import sys
import threading

import pytest
from PIL import Image

from conftest import TEST_KEY
from pixelnb.replay import write_bundle
from pixelnb.store import JobStore


def run(args, env, cwd, timeout=60):
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "pixelnb", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def env(fake, tmp_path):
    return {
        "LUMAAI_BASE_URL": fake.base_url,
        "LUMAAI_API_KEY": TEST_KEY,
        "PIXELNB_CACHE": str(tmp_path / "cache"),
    }


def test_generate_writes_the_animation_and_shows_the_states(env, tmp_path, fake):
    r = run(
        [
            "generate",
            "a cute pixel art cat walking",
            "-o",
            "cat.gif",
            "--size",
            "32",
            "--colors",
            "8",
            "--fps",
            "6",
        ],
        env,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cat.gif"
    for state in ("pending", "queued", "downloading", "completed"):
        assert f" {state}" in r.stderr
    with Image.open(tmp_path / "cat.gif") as im:
        assert im.size == (32, 18) and im.n_frames > 10
    assert fake.creates == 1
    assert TEST_KEY not in r.stdout + r.stderr


def test_jobs_lists_the_store(env, tmp_path):
    run(["generate", "a red dragon", "-o", "d.png", "--size", "16"], env, tmp_path)
    r = run(["jobs"], env, tmp_path)
    assert r.returncode == 0
    line = next(ln for ln in r.stdout.splitlines() if "a red dragon" in ln)
    assert "completed" in line and "d.png" in line and ".mp4" in line


def test_jobs_resume_finishes_what_was_left(env, tmp_path, fake, make_manager):
    from pixelnb.jobs import generate

    fake.dream_seconds = 60
    m = make_manager(tmp_path / "cache" / "jobs.sqlite3", client_kw={"timeout": 30})
    store = m.store
    created = threading.Event()
    job = generate("a sleepy owl", manager=m, pixel={"size": 16})
    job.on_change(lambda j: created.set() if j.state == "queued" else None)
    store.update(job.id, outputs=[str(tmp_path / "owl.gif")])
    assert created.wait(10)
    m._bg_loop.call_soon_threadsafe(m._bg_loop.stop)  # the notebook went away
    fake.dream_seconds = 0.1
    r = run(["jobs", "resume"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "owl.gif").is_file() and fake.creates == 1


@pytest.mark.parametrize(
    ("args", "extra_env", "message"),
    [
        (["generate", "ab", "-o", "x.gif"], {}, "too short"),
        (["generate", "a cat", "-o", "x.gif", "--aspect-ratio", "2:1"], {}, "aspect_ratio"),
        (["generate", "a cat", "-o", "x.gif", "--colors", "1"], {}, "colors"),
        (["generate", "a cat", "-o", "x.gif"], {"LUMAAI_API_KEY": "luma-wrong"}, "refused the API key"),
        (["generate", "a forbidden cat", "-o", "x.gif"], {}, "reword the prompt"),
    ],
)
def test_bad_input_exits_2_with_a_message(env, tmp_path, args, extra_env, message):
    r = run(args, {**env, **extra_env}, tmp_path)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("pixelnb: error:") and message in last


def test_missing_key(env, tmp_path):
    r = run(["generate", "a cat", "-o", "x.gif"], {**env, "LUMAAI_API_KEY": ""}, tmp_path)
    assert r.returncode == 2 and "LUMAAI_API_KEY" in r.stderr


def test_fake_luma_command_serves_the_api(tmp_path):
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelnb", "fake-luma", "--port", "0", "--api-key", "k1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().split(" on ")[1].strip()
        r = httpx.get(base + "/credits", headers={"Authorization": "Bearer k1"})
        assert r.status_code == 200 and "credit_balance" in r.json()
        assert httpx.get(base + "/credits", headers={"Authorization": "Bearer k2"}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_generate_replays_from_a_bundle_with_no_key_and_refuses_new_requests_offline(env, tmp_path, fake):
    args = ["--size", "24", "--colors", "6", "--fps", "4", "-q"]
    epoch = {"SOURCE_DATE_EPOCH": "1700000000"}
    r = run(["generate", "a knight", "-o", "first.gif", *args], {**env, **epoch}, tmp_path)
    assert r.returncode == 0, r.stderr
    write_bundle(tmp_path / "b.zip", JobStore(tmp_path / "cache" / "jobs.sqlite3").all())
    offline = {
        "LUMAAI_BASE_URL": "http://127.0.0.1:9",
        "LUMAAI_API_KEY": "",
        "PIXELNB_CACHE": str(tmp_path / "empty"),
        "PIXELNB_BUNDLE": str(tmp_path / "b.zip"),
        "PIXELNB_OFFLINE": "1",
        **epoch,
    }
    r = run(["generate", "a knight", "-o", "again.gif", *args], offline, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again.gif").read_bytes() == (tmp_path / "first.gif").read_bytes()
    r = run(["generate", "a queen", "-o", "new.gif", *args], offline, tmp_path)
    assert r.returncode == 2 and "'a queen' is not in the bundle b.zip" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = run(["generate", "a queen", "-o", "new.gif", *args], {**offline, "PIXELNB_BUNDLE": ""}, tmp_path)
    assert r.returncode == 2 and "PIXELNB_OFFLINE is set" in r.stderr
    assert fake.creates == 1
