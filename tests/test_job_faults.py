"""The job layer when things go wrong around it: a damaged cache, two processes, a locked
or garbage store, a full disk, a bug, a server that echoes the key, many jobs in a row."""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import TEST_KEY, encode, moving_square
from pixelnb import Sprite
from pixelnb.cli import main
from pixelnb.download import file_sha256
from pixelnb.errors import (
    AuthError,
    DiskFull,
    InternalError,
    LumaError,
    ModerationError,
    RequestError,
    StoreError,
)
from pixelnb.jobs import generate
from pixelnb.luma import LumaClient
from pixelnb.store import JobStore
from pixelnb.testing import FakeLuma

PIXEL = {"size": 24, "colors": 6, "fps": 4}


@pytest.fixture
def new_manager(make_manager):
    """``new_manager(fake, store, **kw)``: a manager on that fake and store (closed after)."""
    return lambda fake, store, **kw: make_manager(store, base_url=fake.base_url, **kw)


# -- the cached video -------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "overwrite", "replace"])
def test_a_damaged_cached_video_is_downloaded_again_without_a_new_create(damage, manager, fake, tmp_path):
    first = generate("a red fox running", manager=manager, pixel=PIXEL)
    want = first.result(30)
    video = first.video_path
    assert video is not None and fake.creates == 1
    if damage == "truncate":
        video.write_bytes(video.read_bytes()[:5000])
    elif damage == "overwrite":
        video.write_bytes(os.urandom(video.stat().st_size))
    else:  # another valid video under the same name: it would convert the wrong clip
        encode(tmp_path / "other.mp4", moving_square, count=30)
        video.write_bytes((tmp_path / "other.mp4").read_bytes())
    again = generate("a red fox running", manager=manager, pixel=PIXEL)
    sprite = again.result(30)
    assert fake.creates == 1, "a damaged cache paid for a new generation"
    assert file_sha256(again.video_path) == manager.store.get(again.id).video_sha256
    assert (sprite.indices == want.indices).all() and (sprite.palette.colors == want.palette.colors).all()
    assert any("changed; downloading it again" in h[2] for h in again.history)


# -- two processes ------------------------------------------------------------------------------
SUBMIT = """
import sys, time
from pixelnb.jobs import JobManager, generate
from pixelnb.luma import LumaClient, PollPolicy
from pixelnb.store import JobStore
store, url, key = sys.argv[1:4]
m = JobManager(JobStore(store), client=LumaClient(key, base_url=url, retry_wait=0.02),
               poll=PollPolicy(0.02, 0.05))
jobs = [generate(f"a ship {i}", manager=m, pixel={"size": 24, "colors": 6, "fps": 4}) for i in range(4)]
while not all(j.luma_id for j in jobs):
    time.sleep(0.02)
print("created", flush=True)
time.sleep(600)
"""

RESUME = """
import sys
from pixelnb.jobs import JobManager
from pixelnb.luma import LumaClient, PollPolicy
from pixelnb.store import JobStore
store, url, key = sys.argv[1:4]
m = JobManager(JobStore(store), client=LumaClient(key, base_url=url, retry_wait=0.02),
               poll=PollPolicy(0.02, 0.05))
jobs = m.resume()
for j in jobs:
    try:
        j.result(120)
        print("ok", j.id, flush=True)
    except Exception as e:
        print("error", j.id, type(e).__name__, e, flush=True)
"""


def test_two_processes_resuming_one_store_share_the_work_safely(tmp_path):
    store = tmp_path / "jobs.sqlite3"
    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=1.5) as fake:
        fake.trickle = 8192  # slow downloads, so both processes would be downloading at once
        first = subprocess.Popen(
            [sys.executable, "-c", SUBMIT, str(store), fake.base_url, TEST_KEY],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert first.stdout is not None and first.stdout.readline().strip() == "created"
        finally:
            first.kill()
            first.wait()
        resumers = [
            subprocess.Popen(
                [sys.executable, "-c", RESUME, str(store), fake.base_url, TEST_KEY],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=180) for p in resumers]
        assert fake.creates == 4, "resuming created new generations"
    lines = [ln for out, _ in outs for ln in out.splitlines()]
    assert lines and all(ln.startswith("ok ") for ln in lines), outs
    assert all(p.returncode == 0 for p in resumers), [err for _, err in outs]
    recs = JobStore(store).all()
    assert {r.state for r in recs} == {"completed"}
    for r in recs:
        assert file_sha256(Path(r.video_path)) == r.video_sha256 == Path(r.video_path).stem
    videos = tmp_path / "videos"
    assert not [p for p in videos.iterdir() if p.name.endswith(".part")], "a part file was left"
    # Only one process followed each job (the other observed it): one download each.
    assert sum(1 for m, p in fake.requests if p.startswith("/assets/") and m == "GET") <= 4 + 2


def test_a_lease_is_free_once_its_holder_died(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    from pixelnb.store import JobRecord

    store.add(JobRecord(id="j", request="{}", request_hash="h", pixel="{}"))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import socket

    assert store.acquire("j", f"{socket.gethostname()}:{dead.stdout.strip()}:x", 60)
    assert store.acquire("j", "me:1:y", 60), "a dead holder's lease was not freed"
    assert not store.acquire("j", "other:1:z", 60), "a live holder's lease was taken"


# -- the store -----------------------------------------------------------------------------------
def test_a_garbage_store_is_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "jobs.sqlite3"
    bad.write_bytes(os.urandom(8192))
    assert main(["jobs", "--store", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "move it aside" in err[0]


def test_a_store_of_another_program_is_refused(tmp_path):
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE jobs (x TEXT)")
    with pytest.raises(StoreError, match="not a pixelnb job store"):
        JobStore(other)


def test_a_locked_store_is_a_bounded_wait_with_a_clear_error(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    JobStore(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = JobStore.__new__(JobStore)
        store.path, store.busy_seconds, store.video_dir = path, 0.3, tmp_path / "videos"
        from pixelnb.store import JobRecord

        with pytest.raises(StoreError, match="another process has held the job store"):
            store.add(JobRecord(id="j", request="{}", request_hash="h", pixel="{}"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_job_whose_store_is_locked_still_ends(fake, tmp_path, new_manager):
    """The failure handler cannot write either: the job ends anyway, with the store error,
    and the record keeps a state a resume carries on from."""
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path, busy_seconds=0.3)
    # Its lease cannot be released either: it expires (quickly here, 30 s by default).
    m = new_manager(fake, store, lease_seconds=1.0)
    fake.dream_seconds = 30
    job = generate("a locked lighthouse", manager=m, pixel=PIXEL)
    seen = threading.Event()
    job.on_change(lambda j: seen.set() if j.state == "dreaming" else None)
    assert seen.wait(10)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        fake.advance(60)
        with pytest.raises(StoreError):
            job.result(30)
        assert job.done() and job.state == "failed"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = new_manager(fake, path).resume()
    assert [j.id for j in again] == [job.id]
    assert isinstance(again[0].result(60), Sprite)
    assert fake.creates == 1


# -- a full disk ----------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs mounted for the test (CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the disk of ``folder`` to ``leave`` bytes free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_is_a_clear_resumable_error_that_never_pays_twice(
    fake, tmp_path, small_disk, new_manager
):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.video_dir = small_disk / "videos"
    store.video_dir.mkdir()
    filler = _fill(small_disk, 50_000)  # the clip is 195 kB
    m = new_manager(fake, store)
    job = generate("a full harbour", manager=m, pixel=PIXEL)
    with pytest.raises(DiskFull, match="no space left on the disk"):
        job.result(30)
    rec = store.get(job.id)
    assert rec.state == "failed" and rec.error_type == "DiskFull"
    assert [p.name for p in store.video_dir.iterdir()] == [], "a partial file was left"
    filler.unlink()
    resumed = m.resume()
    assert [j.id for j in resumed] == [job.id]
    assert isinstance(resumed[0].result(30), Sprite)
    assert fake.creates == 1, "resuming after a full disk paid again"
    # Running the same request again reuses it too.
    assert isinstance(generate("a full harbour", manager=m, pixel=PIXEL).result(30), Sprite)
    assert fake.creates == 1


def test_a_whole_cache_on_a_full_disk_ends_the_job_and_resumes_without_paying(fake, small_disk, new_manager):
    """The store and the videos both on the full disk: the job still ends, nothing partial
    is left, and once there is space a resume finishes it from the same generation."""
    store = JobStore(small_disk / "jobs.sqlite3")
    m = new_manager(fake, store)
    filler = _fill(small_disk, 60_000)
    job = generate("a crowded attic", manager=m, pixel=PIXEL)
    with pytest.raises((DiskFull, StoreError)):
        job.result(30)
    assert job.done()
    assert not [p for p in (small_disk / "videos").iterdir() if ".part" in p.name]
    filler.unlink()
    resumed = new_manager(fake, small_disk / "jobs.sqlite3").resume()
    assert [j.id for j in resumed] == [job.id]
    assert isinstance(resumed[0].result(30), Sprite)
    assert fake.creates == 1


def test_a_frames_export_on_a_full_disk_leaves_nothing(small_disk, capsys):
    import pixelnb

    sprite = pixelnb.pixelate(pixelnb.data.sample_clip(), size=64, colors=16, fps=12)
    _fill(small_disk, 20_000)
    with pytest.raises(DiskFull):
        sprite.save(small_disk / "frames", scale=4)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    with pytest.raises(DiskFull):
        sprite.save(small_disk / "walk.gif", scale=8)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


# -- errors -------------------------------------------------------------------------------------
def test_a_bug_is_an_internal_error_not_a_luma_error(manager, fake, monkeypatch):
    def broken(*a, **k):
        raise TypeError("a programming error")

    monkeypatch.setattr(sys.modules["pixelnb.pipeline"], "pixelate_with", broken)
    job = generate("a bugged bird", manager=manager, pixel=PIXEL)
    with pytest.raises(InternalError, match="bug in pixelnb") as info:
        job.result(30)
    assert not isinstance(info.value, LumaError)
    assert manager.store.get(job.id).error_type == "InternalError"


def test_errors_keep_their_fields_and_hint_through_the_store(manager, fake, tmp_path, new_manager):
    job = generate("a forbidden painting", manager=manager, pixel=PIXEL)
    with pytest.raises(ModerationError) as info:
        job.result(30)
    live = info.value
    assert live.job_id == job.id and live.luma_id == job.luma_id and live.hint
    rebuilt = new_manager(fake, manager.store.path).job(job.id).error
    assert type(rebuilt) is ModerationError
    assert (rebuilt.hint, rebuilt.job_id, rebuilt.luma_id, rebuilt.message) == (
        live.hint,
        live.job_id,
        live.luma_id,
        live.message,
    )
    assert str(rebuilt) == str(live)


def test_a_rate_limit_error_carries_status_and_retry_after(fake, tmp_path):
    import asyncio

    fake.inject("429", on="get", times=10)
    client = LumaClient(TEST_KEY, base_url=fake.base_url, retry_wait=0.01, read_retries=1)
    from conftest import create

    gen = create(fake).json()
    from pixelnb.errors import QuotaError

    with pytest.raises(QuotaError) as info:
        asyncio.run(client.get(gen["id"]))
    assert info.value.status_code == 429 and info.value.retry_after == 1.0


# -- memory -------------------------------------------------------------------------------------
def test_the_manager_lets_go_of_finished_jobs(manager, fake):
    for i in range(12):
        generate(f"a passing cloud {i}", manager=manager, pixel=PIXEL).result(30)
    gc.collect()
    assert len(manager._jobs) == 0, "finished jobs nobody holds are kept"
    held = generate("a kept cloud", manager=manager, pixel=PIXEL)
    held.result(30)
    gc.collect()
    assert manager.job(held.id) is held, "a job the caller holds is the same object"


# -- secrets --------------------------------------------------------------------------------------
def test_a_server_that_echoes_the_key_never_gets_it_shown_logged_or_stored(tmp_path, caplog, make_manager):
    caplog.set_level(logging.INFO)
    secret = "luma-echo-0123456789-secret"
    with FakeLuma(api_key="another-key", echo_key=True, queue_seconds=0.01, dream_seconds=0.01) as fake:
        m = make_manager(key=secret, base_url=fake.base_url)
        job = generate("a cat in a hat", manager=m, pixel=PIXEL)
        with pytest.raises(AuthError) as info:
            job.result(30)
        assert secret in fake.seen_keys
    assert "[redacted]" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in caplog.text
    assert secret.encode() not in (tmp_path / "jobs.sqlite3").read_bytes()
    for extra in tmp_path.glob("jobs.sqlite3-*"):
        assert secret.encode() not in extra.read_bytes()


def test_an_echoed_key_in_a_refused_request_is_redacted(tmp_path):
    import asyncio

    secret = "luma-echo-abcdef-secret"
    with FakeLuma(echo_key=True) as fake:
        client = LumaClient(secret, base_url=fake.base_url)
        from pixelnb.luma import GenerationRequest

        req = GenerationRequest.build("a cat", concepts=["not_a_concept"])
        with pytest.raises(RequestError) as info:
            asyncio.run(client.create(req))
    assert secret not in str(info.value) and "[redacted]" in str(info.value)
    assert info.value.status_code == 400


def test_an_unreachable_luma_shows_reconnecting_and_the_job_recovers_by_itself(tmp_path, make_manager):
    """The server goes away mid-dream: the job says "reconnecting" from the first failed
    read, no retry budget of single reads ends it, and it carries on, with no new create,
    once the server is back."""
    import threading

    from pixelnb.jobs import generate
    from pixelnb.testing import FakeLuma

    state = tmp_path / "fake.json"
    first = FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=3.0, state=state).start()
    m = make_manager(base_url=first.base_url, client_kw={"retry_wait": 0.02, "read_retries": 2})
    job = generate("a lighthouse at dusk", manager=m, pixel={"size": 24, "colors": 6, "fps": 4})
    dreaming, reconnecting = threading.Event(), threading.Event()
    job.on_change(lambda j: dreaming.set() if j.state == "dreaming" else None)
    job.on_change(lambda j: reconnecting.set() if j.progress.stage.startswith("reconnecting") else None)
    assert dreaming.wait(10)
    first.stop()
    assert reconnecting.wait(10), job.progress
    assert job.state == "dreaming" and not job.done()
    second = FakeLuma(
        api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.5, state=state, port=first.port
    ).start()
    try:
        job.result(30)
        assert (first.creates, second.creates) == (1, 0)
        assert job.state == "completed"
    finally:
        second.stop()
