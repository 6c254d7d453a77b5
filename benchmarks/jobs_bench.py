"""The job manager under load: 200 concurrent jobs against a zero-delay fake server.

    .venv/bin/python benchmarks/jobs_bench.py [--jobs 200] [--sequential 600 [--against REV]]

Reports submit latency (the time `generate()` takes to hand back a Job: p50, p99) and the
manager's CPU per job. With ``--sequential N`` it runs N jobs one after another, each
dropped once done (as a notebook that re-runs a cell does), and reports the process's RSS
before, after and its peak: a manager that kept every Job and Sprite would grow with N.
``--against REV`` then runs the same measure on that git revision's pixelnb (a temporary
worktree), side by side in one run.

CPU per job is the process's CPU time for the whole run (the fake server's threads
included) divided by the jobs. The fake serves a tiny 1 s, 64x64 clip so that the pixel
stage, measured in benchmarks/run.py, stays a small part of it.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# --src=DIR measures the pixelnb in DIR (what --against uses for an older revision).
sys.path.insert(0, next((a[6:] for a in sys.argv if a.startswith("--src=")), str(Path(__file__).parents[1])))

from pixelnb.jobs import JobManager, generate
from pixelnb.luma import LumaClient, PollPolicy
from pixelnb.store import JobStore
from pixelnb.testing import FakeLuma

ROOT = Path(__file__).resolve().parents[1]
SRC = sys.path[0]


def tiny_clip(path: Path) -> Path:
    """A 1 s, 64x64, 12 fps H.264 clip of a moving bar."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=12)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for i in range(12):
            a = np.zeros((64, 64, 3), np.uint8)
            a[:, i * 5 : i * 5 + 8] = (200, 60, 30)
            f = av.VideoFrame.from_ndarray(a, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 12)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


@contextlib.contextmanager
def bench_manager(poll: PollPolicy, max_active: int = 10) -> Iterator[tuple[JobManager, FakeLuma]]:
    """A JobManager on a temporary store, against a zero-delay fake serving the tiny clip."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeLuma(
            tiny_clip(Path(tmp) / "tiny.mp4"),
            queue_seconds=0,
            dream_seconds=0,
            max_active=10_000,
            creates_per_minute=1_000_000,
        ) as fake,
    ):
        client = LumaClient("bench-key", base_url=fake.base_url, creates_per_minute=1_000_000)
        manager = JobManager(
            JobStore(Path(tmp) / "jobs.sqlite3"), client=client, poll=poll, max_active=max_active
        )
        try:
            yield manager, fake
        finally:
            if hasattr(manager, "close"):  # older revisions have no close()
                manager.close()


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def sequential(n: int) -> None:
    import gc

    with bench_manager(PollPolicy(0.01, 0.05)) as (manager, _fake):
        pixel = {"size": 48, "colors": 16, "fps": 12}
        generate("warm-up", manager=manager, pixel=pixel).result(60)
        gc.collect()
        before, _ = rss_mb()
        for i in range(n):
            generate(f"sequential prompt number {i}", manager=manager, pixel=pixel).result(60)
        gc.collect()
        after, peak = rss_mb()
        kept = len(getattr(manager, "_jobs", {}))
    print(
        f"{n} sequential jobs: RSS {before:.0f} MB -> {after:.0f} MB (peak {peak:.0f} MB); "
        f"jobs the manager still holds: {kept}"
    )


def against(rev: str, n: int) -> None:
    """The same --sequential measure on revision ``rev``, in a fresh process."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True)
        try:
            print(f"revision {rev}:", flush=True)
            subprocess.run([sys.executable, __file__, f"--src={tree}", "--sequential", str(n)], check=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--sequential", type=int, default=0, help="run this many jobs one by one and report RSS")
    ap.add_argument("--against", default=None, help="with --sequential: also measure this git revision")
    ap.add_argument("--src", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sequential:
        print("this tree:", flush=True)
        sequential(args.sequential)
        if args.against:
            against(args.against, args.sequential)
        return
    n = args.jobs
    with bench_manager(PollPolicy(0.05, 0.2), max_active=n) as (manager, fake):
        pixel = {"size": 8, "colors": 2, "fps": 1}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        latencies = []
        jobs = []
        for i in range(n):
            t = time.perf_counter()
            jobs.append(generate(f"benchmark prompt number {i}", manager=manager, pixel=pixel))
            latencies.append((time.perf_counter() - t) * 1000)
        for j in jobs:
            j.result(300)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        assert fake.creates == n
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
    print(f"{n} concurrent jobs against a zero-delay fake, all completed in {wall:.1f} s wall")
    print(f"submit latency: p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms")
    print(f"CPU per job (whole process, fake server included): {cpu / n * 1000:.1f} ms")


if __name__ == "__main__":
    main()
