"""Batch conversion: 40 short clips with 1 worker and with 2 (a local process pool), the
same batch on a Dask LocalCluster of 2 worker processes, and the per-task overhead of Dask
against the local pool (empty tasks). One run, side by side; printed as a Markdown table.

    .venv/bin/python benchmarks/batch_bench.py [--clips 40] [--repeats 3]

The clips are cut from the bundled sample clip (480x270, H.264): each 1.5 s from its own
offset, re-encoded, so no two are the same file. Each timed batch starts its workers and
writes into an empty folder (nothing skipped); the medians of the round-robin repeats are
shown. The last line extrapolates to 10,000 clips (labelled as such).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_clips(folder: Path, count: int) -> list[Path]:
    import imageio_ffmpeg

    from pixelnb.data import sample_clip

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    out = []
    for i in range(count):
        dst = folder / f"clip{i:03}.mp4"
        start = (i * 0.09) % 3.7
        subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-ss", f"{start:.2f}", "-i", str(sample_clip()), "-t", "1.5",
             "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an", str(dst)],
            check=True,
        )  # fmt: skip
        out.append(dst)
    return out


def nothing(i: int) -> int:
    return i


def per_task_overhead(executor: cf.Executor, n: int = 400) -> float:
    """Seconds per empty task, after the workers are up."""
    list(executor.map(nothing, range(8)))  # warm
    t0 = time.perf_counter()
    futures = [executor.submit(nothing, i) for i in range(n)]
    for f in futures:
        f.result()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")

    from distributed import Client, LocalCluster

    from pixelnb.batch import convert_many
    from pixelnb.video import usable_cores

    work = Path(tempfile.mkdtemp(prefix="pixelnb-batch-"))
    try:
        (work / "clips").mkdir()
        clips = make_clips(work / "clips", args.clips)
        opts = {"size": 64, "colors": 16, "fps": 12}
        times: dict[str, list[float]] = {"1 worker": [], "2 workers": [], "dask 2 workers": []}
        outs = {}
        cluster_kw = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        with LocalCluster(**cluster_kw) as cluster, Client(cluster) as client:
            for r in range(args.repeats):
                for name in times:
                    out = work / f"out-{name.replace(' ', '-')}-{r}"
                    t0 = time.perf_counter()
                    if name.startswith("dask"):
                        res = convert_many(clips, out, executor=client, **opts)
                    else:
                        res = convert_many(clips, out, workers=int(name[0]), **opts)
                    times[name].append(time.perf_counter() - t0)
                    assert len(res.ok) == len(clips), res.summary()
                    outs[name] = out
            dask_task = per_task_overhead(client.get_executor())
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
            pool_task = per_task_overhead(pool)
        same = all(
            (outs["1 worker"] / p.name).read_bytes() == p.read_bytes()
            for name in ("2 workers", "dask 2 workers")
            for p in outs[name].iterdir()
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"# Batch benchmark ({len(clips)} clips of 1.5 s 480x270 → 64 px, 16 colours, 12 fps GIF)\n")
        print(f"machine: {platform.machine()}, {usable_cores()} usable cores, ", end="")
        print(f"Python {platform.python_version()}\n")
        print("| run | median s | per clip s | speed-up vs 1 worker | all runs s |")
        print("|---|---:|---:|---:|---|")
        for k, v in med.items():
            runs = ", ".join(f"{t:.2f}" for t in times[k])
            print(f"| {k} | {v:.2f} | {v / len(clips):.3f} | {med['1 worker'] / v:.2f}× | {runs} |")
        print()
        print(f"- outputs byte-identical across the three: {same}")
        print(
            f"- per-task overhead, empty tasks: local pool {pool_task * 1e3:.2f} ms, "
            f"Dask {dask_task * 1e3:.2f} ms"
        )
        per_clip = {k: v / len(clips) for k, v in med.items()}
        print(
            "- extrapolated (not measured) to 10,000 such clips: "
            + ", ".join(f"{k} {per_clip[k] * 10_000 / 60:.0f} min" for k in per_clip)
            + "; on N such 2-core workers divide the Dask figure by N/2 (plus "
            f"{dask_task * 10_000:.0f} s of scheduling)"
        )
        goal = med["1 worker"] / med["2 workers"]
        print(f"- goal: 2 workers ≥ 1.8× 1 worker: {goal:.2f}× {'met' if goal >= 1.8 else 'NOT met'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
