"""Byte-identical re-runs: every export format from two fresh processes with one and two
threads, and the Luma notebook re-run from its replay bundle with nbclient and papermill,
no key, no server, no network connection."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TEST_KEY, environment

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EPOCH = "1700000000"
FORMATS = ("gif", "png", "apng", "webp", "html", "zip")

SAVE_ALL = f"""
import sys, json, pixelnb
opts = json.loads(sys.argv[3])
sprite = pixelnb.pixelate(sys.argv[1], **opts)
for ext in {FORMATS!r}:
    sprite.save(f"{{sys.argv[2]}}/out.{{ext}}", scale=2)
sprite.save(f"{{sys.argv[2]}}/frames")
hero = pixelnb.SpriteSet({{"a": sprite, "b": sprite.trim(0, 3)}})
hero.save(f"{{sys.argv[2]}}/set.tres")  # with set.png and set.json
"""


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fresh_process(args: list[str], threads: int, **env: str) -> subprocess.CompletedProcess[str]:
    """A new Python process pinned to ``threads`` cores, with that many BLAS threads."""
    cores = sorted(os.sched_getaffinity(0))[:threads]
    full = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "SOURCE_DATE_EPOCH": EPOCH,
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        env=full,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),
        timeout=300,
    )


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to compare 1 and 2 threads")
@pytest.mark.parametrize(
    "opts",
    [
        {"size": 48, "colors": 12, "fps": 8},
        {"size": 40, "colors": 8, "fps": 10, "dither": "bayer4", "palette": "pico-8", "exact": True},
        {"size": 32, "colors": 6, "fps": 6, "background": "auto", "downscale": "mode"},
    ],
    ids=["default", "dithered", "matte"],
)
def test_every_format_is_byte_identical_across_processes_and_threads(bunny, tmp_path, opts):
    runs = {}
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        out.mkdir()
        r = fresh_process(["-c", SAVE_ALL, str(bunny), str(out), json.dumps(opts)], threads)
        assert r.returncode == 0, r.stderr
        runs[threads] = digests(out)
    frames = len(list((tmp_path / "t1" / "frames").iterdir()))
    assert len(runs[1]) == len(FORMATS) + 1 + frames + 3  # + out.json, the frames, the set's three
    assert runs[1] == runs[2]


def test_the_command_line_writes_what_the_api_writes(bunny, tmp_path):
    files = {}
    for threads in (1, 2):
        out = tmp_path / f"cli{threads}.gif"
        args = ["-m", "pixelnb", "convert", str(bunny), "-o", str(out), "--size", "48", "--colors", "12"]
        r = fresh_process(
            [*args, "--fps", "8", "--scale", "2", "-q"], min(threads, len(os.sched_getaffinity(0)))
        )
        assert r.returncode == 0, r.stderr
        files[threads] = out.read_bytes()
    api = tmp_path / "api"
    api.mkdir()
    opts = json.dumps({"size": 48, "colors": 12, "fps": 8.0})
    assert fresh_process(["-c", SAVE_ALL, str(bunny), str(api), opts], 1).returncode == 0
    assert files[1] == files[2] == (api / "out.gif").read_bytes()


# -- the Luma notebook, re-run from its bundle ------------------------------------------------

AUDIT = """
import os, sys
_log = os.environ.get("PIXELNB_TEST_NETLOG")
if _log:
    def _hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo"):
            with open(_log, "a") as f:
                f.write(f"{event} {args[1:]!r}\\n")
    sys.addaudithook(_hook)
"""


def run_nbclient(src: Path, cwd: Path) -> Path:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(src, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    out = cwd / src.name
    nbformat.write(nb, out)
    return out


def run_papermill(src: Path, cwd: Path, prompt: str) -> Path:
    import papermill

    out = cwd / src.name
    papermill.execute_notebook(
        str(src),
        str(out),
        parameters={"prompt": prompt},
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
    )
    return out


def test_the_generate_notebook_replays_from_its_bundle_with_no_key_and_no_network(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    from pixelnb import provenance
    from pixelnb.testing import FakeLuma

    src = NOTEBOOKS / "generate.ipynb"
    prompt = "a cute pixel art cat walking in a garden"
    runs = {name: tmp_path / name for name in ("first", "nbclient", "papermill", "changed")}
    for d in runs.values():
        d.mkdir()
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(AUDIT)
    online = tmp_path / "online.log"
    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.15) as fake:
        with environment(
            PYTHONPATH=str(audit),
            PIXELNB_TEST_NETLOG=str(online),
            LUMAAI_API_KEY=TEST_KEY,
            LUMAAI_BASE_URL=fake.base_url,
            PIXELNB_CACHE=str(tmp_path / "cache1"),
            SOURCE_DATE_EPOCH=EPOCH,
            PIXELNB_BUNDLE=None,
            PIXELNB_OFFLINE=None,
        ):
            first = run_papermill(src, runs["first"], prompt)
            r = subprocess.run(
                [sys.executable, "-m", "pixelnb", "bundle", str(first), "-o", str(tmp_path / "bundle.zip")],
                capture_output=True,
                text=True,
            )
            assert r.returncode == 0, r.stderr
        (generation,) = fake.generations
        assert fake.creates == 1
    # the audit hook sees the first run reach the fake (so its silence below means something)
    assert f"{fake.port}" in online.read_text()
    shutil.rmtree(tmp_path / "cache1")  # the cache wiped, the key unset, the server gone
    netlog = tmp_path / "net.log"
    with environment(
        LUMAAI_API_KEY=None,
        LUMAAI_BASE_URL=fake.base_url,
        PIXELNB_CACHE=str(tmp_path / "cache2"),
        PIXELNB_BUNDLE=str(tmp_path / "bundle.zip"),
        PIXELNB_OFFLINE="1",
        SOURCE_DATE_EPOCH=EPOCH,
        PYTHONPATH=str(audit),
        PIXELNB_TEST_NETLOG=str(netlog),
    ):
        run_nbclient(src, runs["nbclient"])
        run_papermill(src, runs["papermill"], prompt)
        with pytest.raises(PapermillExecutionError, match="not in the bundle") as err:
            run_papermill(src, runs["changed"], "a cute pixel art dog")
    assert "OfflineError" in str(err.value.ename)
    assert not netlog.exists(), f"the re-runs opened connections: {netlog.read_text()}"
    files = {name: digests(runs[name] / "generate-out") for name in ("first", "nbclient", "papermill")}
    assert set(files["first"]) == {f"cat.{e}" for e in (*FORMATS, "json")}
    assert files["first"] == files["nbclient"] == files["papermill"]
    for name in ("first", "nbclient", "papermill"):  # the bundle made in the notebook, too
        assert digests(runs[name])["generate.pixelnb.zip"] == digests(tmp_path)["bundle.zip"]
    rec = provenance(runs["nbclient"] / "generate-out" / "cat.gif")
    assert rec["generation"]["id"] == generation and rec["generation"]["prompt"] == prompt
    assert not (runs["changed"] / "generate-out").exists()


def test_bundle_from_a_notebook_without_generations_says_what_to_do(tmp_path):
    nb = {"cells": [{"cell_type": "code", "outputs": [], "source": "1"}], "metadata": {}, "nbformat": 4}
    (tmp_path / "plain.ipynb").write_text(json.dumps(nb))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixelnb",
            "bundle",
            str(tmp_path / "plain.ipynb"),
            "-o",
            str(tmp_path / "b.zip"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "shows no generation in its outputs" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "b.zip").exists()
