"""convert_many: one task per file on a process pool and on real Dask (a LocalCluster of two
worker processes, and a separately started scheduler and worker), byte-identical to the
single-process `pixelnb convert`; bad files reported; re-runs skipped; a killed worker
retried elsewhere."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

import pixelnb
from pixelnb import OptionError
from pixelnb.batch import BatchResult, convert_many

OPTS = {"size": 32, "colors": 8, "fps": 6}
EPOCH = "1700000000"


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, bunny, square_clip, phone_vfr):
    """Five real clips (two of them copies under other names) and a corrupt one."""
    d = tmp_path_factory.mktemp("clips")
    for name, src in (("a", bunny), ("b", square_clip), ("c", phone_vfr), ("d", bunny), ("e", square_clip)):
        shutil.copy(src, d / f"{name}.mp4")
    (d / "broken.mp4").write_bytes(Path(bunny).read_bytes()[:3000])  # a cut-off download
    return d


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference(clips: Path, tmp_path: Path) -> dict[str, str]:
    """What the single-process command writes for each good clip."""
    out = tmp_path / "reference"
    out.mkdir()
    digests = {}
    for clip in sorted(clips.glob("[a-e].mp4")):
        r = subprocess.run(
            [sys.executable, "-m", "pixelnb", "convert", str(clip), "-o", str(out / f"{clip.stem}.gif"),
             "--size", "32", "--colors", "8", "--fps", "6", "-q"],
            capture_output=True, text=True, env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        digests[f"{clip.stem}.gif"] = sha(out / f"{clip.stem}.gif")
    return digests


def written(folder: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(folder.iterdir()) if p.is_file()}


def check_done(result: BatchResult, clips: Path, out: Path) -> None:
    assert sorted(Path(i.input).name for i in result.ok + result.skipped) == [f"{c}.mp4" for c in "abcde"]
    (bad,) = result.failed
    assert Path(bad.input).name == "broken.mp4" and "broken.mp4" in (bad.error or "")
    assert not list(out.glob(".*")), "a part file was left behind"


def test_a_local_pool_converts_a_folder_like_the_single_process_command(clips, tmp_path):
    out = tmp_path / "out"
    seen = []
    result = convert_many(
        str(clips / "*.mp4"), out, workers=2, progress=lambda d, t, i: seen.append((d, t)), **OPTS
    )
    check_done(result, clips, out)
    assert written(out) == reference(clips, tmp_path)
    assert seen == [(n, 6) for n in range(1, 7)]
    assert "local pool of 2 processes" in repr(result) and len(result.ok) == 5


def test_a_rerun_skips_everything_already_made_and_redoes_what_changed(clips, tmp_path):
    out = tmp_path / "out"
    first = convert_many(clips / "*.mp4", out, workers=2, **OPTS)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = convert_many(clips / "*.mp4", out, workers=2, **OPTS)
    assert len(again.skipped) == 5 and len(again.failed) == 1 and not again.ok
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing rewritten
    other = convert_many(clips / "*.mp4", out, workers=2, **{**OPTS, "colors": 6})
    assert len(other.ok) == 5  # other options: made again
    shutil.copy(clips / "b.mp4", tmp_path / "a.mp4")  # another video under a's name
    swapped = convert_many([tmp_path / "a.mp4"], out, workers=1, **{**OPTS, "colors": 6})
    assert [i.status for i in swapped] == ["ok"] and len(first.ok) == 5


def test_bad_options_and_patterns_fail_before_any_work(clips, tmp_path):
    with pytest.raises(OptionError, match="colors must be from 2 to 256"):
        convert_many(clips / "*.mp4", tmp_path / "o", colors=999)
    with pytest.raises(OptionError, match="matches no file"):
        convert_many(clips / "*.mkv", tmp_path / "o")
    with pytest.raises(OptionError, match="cannot be filled"):
        convert_many(clips / "*.mp4", tmp_path / "o", pattern="{title}.gif")
    with pytest.raises(OptionError, match="end it with one of"):
        convert_many(clips / "*.mp4", tmp_path / "o", pattern="{stem}.jpg")
    twins = tmp_path / "twins"
    (twins / "x").mkdir(parents=True)
    (twins / "y").mkdir()
    shutil.copy(clips / "a.mp4", twins / "x" / "a.mp4")
    shutil.copy(clips / "a.mp4", twins / "y" / "a.mp4")
    with pytest.raises(OptionError, match="would both write"):
        convert_many(twins / "*" / "a.mp4", tmp_path / "o")
    r = convert_many(twins / "*" / "a.mp4", tmp_path / "o", pattern="{parent}_{stem}.webp", workers=1, **OPTS)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x_a.webp", "y_a.webp"] and not r.failed
    with pytest.raises(OptionError, match="executor must be"):
        convert_many(clips / "a.mp4", tmp_path / "o", executor=42)
    assert not (tmp_path / "o" / "a.gif").exists()


def test_the_result_is_a_table_and_a_dataframe(clips, tmp_path):
    result = convert_many([clips / "a.mp4", clips / "broken.mp4"], tmp_path / "o", workers=1, **OPTS)
    page = result._repr_html_()
    assert "<table>" in page and "broken.mp4" in page and "failed" in page
    df = result.to_pandas()
    assert list(df["status"]) == ["ok", "failed"] and df["seconds"].min() >= 0


def test_a_dask_local_cluster_writes_the_same_bytes(clips, tmp_path):
    from distributed import Client, LocalCluster

    out = tmp_path / "dask"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        result = convert_many(clips / "*.mp4", out, executor=client, **OPTS)
        again = convert_many(clips / "*.mp4", out, executor=client.get_executor(), **OPTS)
        workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
    check_done(result, clips, out)
    assert len(workers) == 2 and "Dask" in result.executor
    assert written(out) == reference(clips, tmp_path)
    assert len(again.skipped) == 5


WORKER_ARGS = ["--nworkers", "2", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`pixelnb ARGS` as a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "pixelnb", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def dask_pair(tmp_path):
    """A `dask scheduler` and a `dask worker` started as separate processes on loopback."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
         "--scheduler-file", str(scheduler_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    procs = [sched]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            assert sched.poll() is None, "the scheduler exited"
            time.sleep(0.1)  # polling a file another process writes; no event to wait on
        address = json.loads(scheduler_file.read_text())["address"]
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1"}  # a different clock: the batch's time must win
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, *WORKER_ARGS],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        )
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(30)


def test_a_separately_started_scheduler_and_worker_run_the_batch(clips, tmp_path, dask_pair):
    out = tmp_path / "remote"
    opts = ["--size", "32", "--colors", "8", "--fps", "6", "--scheduler", dask_pair]
    r = cli("convert", str(clips / "*.mp4"), "-o", str(out), *opts, env={"SOURCE_DATE_EPOCH": EPOCH})
    assert r.returncode == 1, r.stderr  # the broken file fails the batch's exit code
    assert "failed: " in r.stderr and "broken.mp4" in r.stderr
    assert "6 files: 5 ok, 0 skipped, 1 failed" in r.stderr and f"Dask at {dask_pair}" in r.stderr
    assert written(out) == reference(clips, tmp_path)
    assert pixelnb.provenance(out / "c.gif")["created"] == "2023-11-14T22:13:20Z"


def test_a_killed_dask_worker_has_its_tasks_retried_elsewhere(clips, tmp_path):
    from distributed import Client, LocalCluster

    many = tmp_path / "many"
    many.mkdir()
    for i in range(12):
        shutil.copy(clips / "c.mp4", many / f"clip{i:02}.mp4")  # the 720p phone clip: slow enough
    out = tmp_path / "out"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        victim = next(iter(pids.values()))
        started = threading.Event()

        def progress(done, total, item):
            if done == 1:
                started.set()
                os.kill(victim, signal.SIGKILL)  # mid-batch: one file done, others running

        result = convert_many(many / "*.mp4", out, executor=client, progress=progress, **OPTS)
    assert started.is_set()
    assert len(result.ok) + len(result.skipped) == 12 and not result.failed
    assert sorted(p.name for p in out.iterdir()) == [f"clip{i:02}.gif" for i in range(12)]  # no part files
    digests = {sha(p) for p in out.iterdir()}
    for p in out.iterdir():
        with Image.open(p) as im:
            im.seek(im.n_frames - 1)  # whole files
    assert len(digests) == 12  # each names its own source


def test_a_killed_local_worker_is_replaced_and_its_files_retried(clips, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for i in range(8):
        shutil.copy(clips / "c.mp4", many / f"clip{i}.mp4")
    killed = []

    def progress(done, total, item):
        if not killed:
            import multiprocessing

            children = multiprocessing.active_children()
            pool_pids = [p.pid for p in children]
            if pool_pids:
                os.kill(pool_pids[0], signal.SIGKILL)
                killed.append(pool_pids[0])

    result = convert_many(many / "*.mp4", tmp_path / "out", workers=2, progress=progress, **OPTS)
    assert killed and not result.failed and len(result.ok) + len(result.skipped) == 8


def test_the_cli_converts_a_pattern_with_a_pool_and_exits_1_on_a_bad_file(clips, tmp_path):
    out = tmp_path / "cli"
    opts = ["--size", "32", "--colors", "8", "--fps", "6", "--pattern", "{stem}.webp", "--workers", "2"]
    r = cli("convert", str(clips / "*.mp4"), "-o", str(out), *opts)
    assert r.returncode == 1
    assert sorted(r.stdout.split()) == sorted(str(out / f"{c}.webp") for c in "abcde")
    assert "6 files: 5 ok, 0 skipped, 1 failed" in r.stderr and "Traceback" not in r.stderr
    r = cli("convert", str(clips / "[a-e].mp4"), "-o", str(out), *opts)
    assert r.returncode == 0 and "5 files: 0 ok, 5 skipped, 0 failed" in r.stderr
    r = cli("convert", str(clips / "*.mp4"), "-o", str(out), "--colors", "1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = cli("convert", str(clips / "a.mp4"), str(clips / "b.mp4"), "-o", str(tmp_path / "x.gif"))
    assert r.returncode == 2 and "give -o a folder" in r.stderr and not (tmp_path / "x.gif").exists()


def test_the_local_path_never_imports_dask(clips, tmp_path):
    code = (
        "import sys, pixelnb\n"
        f"r = pixelnb.convert_many([{str(clips / 'b.mp4')!r}], {str(tmp_path / 'o')!r}, workers=1, size=16)\n"
        "assert r.ok, r\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    # and importing the batch module loads no numpy: a spawned worker sets its BLAS threads first
    r = subprocess.run([sys.executable, "-c", "import sys, pixelnb.batch; print('numpy' in sys.modules)"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.stdout.strip() == "False", r.stderr
