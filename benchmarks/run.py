"""Speed, memory and quality of `pixelnb convert` against ffmpeg and Pillow, in one run.

    make bench            (or: .venv/bin/python benchmarks/run.py [--repeat 3])

For every clip (the real clips in ../shared/clips when present, a 10 s 1080p clip made
from one of them, and the bundled sample clip) it runs, each as a fresh process:
- pixelnb:  `python -m pixelnb convert CLIP -o out.gif --size 64 --colors 16 --fps 12`
- ffmpeg:   the static ffmpeg of the imageio-ffmpeg wheel, `fps=12,scale=...:flags=area,
            split, palettegen=max_colors=16, paletteuse` (its default dithering, and none)
- pillow:   pixelnb's sampler, then Pillow median cut per frame (benchmarks/pillow_anchor.py)
- floor:    PyAV decoding the frames and nothing else (benchmarks/decode_floor.py), both
            every frame and only reference frames (what `convert` decodes at 12 fps)
and reports the median wall time, the peak RSS, the mean ΔE2000 of each GIF against the
area-downscaled source, and flicker: the share of pixels that change colour between
consecutive frames where the source changed by less than ΔE 2; and orphans: the share of
pixels whose colour differs from all eight neighbours.
It ends with the quantization micro-benchmark (48 frames of 64×64 to 16 colours).
Results go to stdout and benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"
SHARED_CLIPS = ROOT.parent / "shared" / "clips"
sys.path.insert(0, str(ROOT))

import pixelnb  # noqa: E402
from pixelnb.color import delta_e2000, rgb_to_lab  # noqa: E402


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command run as a child process."""
    r = subprocess.run([sys.executable, str(HERE / "measure.py"), *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {r.stderr[-500:]}")
    wall, rss = r.stdout.split()
    return float(wall), float(rss)


def make_1080p(src: Path, dst: Path, seconds: float = 10.0, size: str = "1920:1080") -> Path:
    """Scale a real clip to ``size`` (1920x1080) H.264, 25 fps, ``seconds`` long, once."""
    if dst.exists():
        return dst
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(src),
            "-t",
            str(seconds),
            "-vf",
            f"scale={size}:flags=bicubic,fps=25",
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-an",
            str(dst),
        ],
        check=True,
    )
    return dst


def clips() -> list[Path]:
    WORK.mkdir(exist_ok=True)
    found = sorted(SHARED_CLIPS.glob("*.mp4")) if SHARED_CLIPS.exists() else []
    out = list(found)
    cockatoo = SHARED_CLIPS / "cockatoo_720p_yuv420p.mp4"
    if cockatoo.exists():
        out.append(make_1080p(cockatoo, WORK / "cockatoo_1080p_10s.mp4"))
    out.append(pixelnb.data.sample_clip())
    return out


def read_gif(path: Path, fps: float = 12.0) -> np.ndarray:
    """The GIF's frames on a 1/fps time grid: encoders merge identical neighbours into one
    longer frame, so a frame is repeated for as many ticks as it lasts."""
    frames, ends, t = [], [], 0
    with Image.open(path) as im:
        for f in ImageSequence.Iterator(im):
            frames.append(np.asarray(f.convert("RGB")))
            t += f.info.get("duration", 0) or 0
            ends.append(t)
    ticks = (np.arange(round(t * fps / 1000)) + 0.5) * 1000 / fps
    return np.stack(frames)[np.searchsorted(np.array(ends), ticks, side="right").clip(0, len(frames) - 1)]


def orphans(frames: np.ndarray) -> float:
    """Pixel cleanliness: the share of interior pixels whose colour differs from all eight
    neighbours' (an isolated pixel; dithering and stale hysteresis pixels make them)."""
    inner = frames[:, 1:-1, 1:-1]
    h, w = inner.shape[1:3]
    alone = np.ones(inner.shape[:3], bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                near = frames[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
                alone &= (inner != near).any(axis=-1)
    return float(alone.mean())


def quality(gif: Path, ref: np.ndarray) -> tuple[float, float, float]:
    out = read_gif(gif)
    n = min(len(out), len(ref))
    out, ref = out[:n], ref[:n]
    if out.shape != ref.shape:
        raise RuntimeError(f"{gif.name}: shape {out.shape} != reference {ref.shape}")
    lab_out, lab_ref = rgb_to_lab(out), rgb_to_lab(ref)
    de = float(delta_e2000(lab_out, lab_ref).mean())
    still = delta_e2000(lab_ref[1:], lab_ref[:-1]) < 2.0
    changed = (out[1:] != out[:-1]).any(axis=-1)
    flicker = float(changed[still].mean()) if still.any() else 0.0
    return de, flicker, orphans(out)


def convert(clip: Path, out: Path, *extra: str) -> list[str]:
    """The `pixelnb convert` command the benchmark times."""
    return [
        sys.executable,
        "-m",
        "pixelnb",
        "convert",
        str(clip),
        "-o",
        str(out),
        "--size",
        "64",
        "--colors",
        "16",
        "--fps",
        "12",
        "-q",
        *extra,
    ]


def warm(clip: Path, out: Path, repeat: int) -> tuple[float, float]:
    """Seconds for pixelnb and for the nonref decode floor in an already running process
    (as in a notebook, where start-up and imports are paid once), after a warm-up run."""
    sys.path.insert(0, str(HERE))
    from decode_floor import main as decode

    from pixelnb.pixelate import pixelate

    pixelate(clip, size=64, colors=16, fps=12).save(out)
    decode(str(clip), "nonref")
    ours, floor = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pixelate(clip, size=64, colors=16, fps=12).save(out)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        decode(str(clip), "nonref")
        floor.append(time.perf_counter() - t0)
    return statistics.median(ours), statistics.median(floor)


def quantize_microbench(repeat: int = 30) -> tuple[float, float]:
    """Median ms to fit a palette and map 48 frames of 64x64 (real frames, and noise)."""
    from pixelnb.pixelate import pixelate

    real = pixelnb.sample(pixelnb.data.sample_clip(), frames=48, size=(64, 64))
    rng = np.random.default_rng(0)
    noise = pixelnb.Clip(rng.integers(0, 256, (48, 64, 64, 3)).astype(np.uint8), 12, np.arange(48) / 12)
    res = []
    for clip in (real, noise):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            pixelate(clip, size=(64, 64), colors=16)
            times.append((time.perf_counter() - t0) * 1000)
        res.append(statistics.median(times))
    return res[0], res[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="run only clips whose name contains this")
    args = ap.parse_args()
    py = sys.executable
    ff = ffmpeg_exe()
    rows = []
    for clip in [c for c in clips() if args.only in c.name]:
        info = pixelnb.probe(clip)
        w, h = pixelnb.video.fit_size(info.width, info.height, 64)
        ref = pixelnb.sample(clip, fps=12, size=(w, h)).frames
        # `convert` picks each frame within one source frame of the exact time (it skips
        # decoding frames nothing depends on); it is scored against the frames it picked.
        ref_fast = pixelnb.sample(clip, fps=12, size=(w, h), exact=False).frames
        tools = ("pixelnb", "pixelnb-exact", "pixelnb-nohyst", "ffmpeg", "ffmpeg-nodither", "pillow")
        outs = {k: WORK / f"{clip.stem}.{k}.gif" for k in tools}
        vf = f"fps=12,scale={w}:{h}:flags=area,split[a][b];[a]palettegen=max_colors=16[p];[b][p]paletteuse"
        cmds = {
            "pixelnb": convert(clip, outs["pixelnb"]),
            "pixelnb-exact": convert(clip, outs["pixelnb-exact"], "--exact"),
            # The same pixels with the temporal rules off (hysteresis=0): the orphan baseline.
            "pixelnb-nohyst": [
                py,
                "-c",
                "import sys, pixelnb; pixelnb.pixelate(sys.argv[1], size=64, colors=16, fps=12, "
                "hysteresis=0).save(sys.argv[2])",
                str(clip),
                str(outs["pixelnb-nohyst"]),
            ],
            "ffmpeg": [ff, "-loglevel", "error", "-y", "-i", str(clip), "-vf", vf, str(outs["ffmpeg"])],
            "ffmpeg-nodither": [
                ff,
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(clip),
                "-vf",
                vf + "=dither=none",
                str(outs["ffmpeg-nodither"]),
            ],
            "pillow": [py, str(HERE / "pillow_anchor.py"), str(clip), str(outs["pillow"])],
            "floor-all": [py, str(HERE / "decode_floor.py"), str(clip), "all"],
            "floor-nonref": [py, str(HERE / "decode_floor.py"), str(clip), "nonref"],
        }
        res: dict[str, dict[str, float]] = {}
        for name, cmd in cmds.items():
            runs = [timed(cmd) for _ in range(args.repeat)]
            res[name] = {"wall": statistics.median(r[0] for r in runs), "rss": max(r[1] for r in runs)}
            if name in outs:
                res[name]["de"], res[name]["flicker"], res[name]["orphans"] = quality(
                    outs[name], ref_fast if name == "pixelnb" else ref
                )
        ours_warm, floor_warm = warm(clip, WORK / f"{clip.stem}.warm.gif", args.repeat)
        res["pixelnb-in-process"] = {"wall": ours_warm, "rss": float("nan"), "floor": floor_warm}
        res["floor-nonref-in-process"] = {"wall": floor_warm, "rss": float("nan"), "floor": floor_warm}
        rows.append((clip.name, f"{info.width}x{info.height}", info.duration or 0.0, res))
        print(f"done {clip.name}", file=sys.stderr)
    real_ms, noise_ms = quantize_microbench()

    ffmpeg_version = subprocess.run([ff, "-version"], capture_output=True, text=True).stdout.split()[2]
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"PyAV {__import__('av').__version__}, Pillow {Image.__version__}, ffmpeg {ffmpeg_version}. "
        f"Median of {args.repeat} runs each; every tool runs as a fresh process.",
        "",
        "| clip | size | s | tool | wall s | ×floor (nonref) | ×floor (all) | peak RSS MB "
        "| mean ΔE2000 | flicker % | orphans % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, size, dur, res in rows:
        fn, fa = res["floor-nonref"]["wall"], res["floor-all"]["wall"]
        for tool in (*tools, "floor-nonref", "floor-all", "pixelnb-in-process", "floor-nonref-in-process"):
            r = res[tool]
            fn = r.get("floor", res["floor-nonref"]["wall"])
            rss = "" if math.isnan(r["rss"]) else f"{r['rss']:.0f}"
            de = f"{r['de']:.2f}" if "de" in r else ""
            fl = f"{100 * r['flicker']:.2f}" if "flicker" in r else ""
            orph = f"{100 * r['orphans']:.2f}" if "orphans" in r else ""
            lines.append(
                f"| {name} | {size} | {dur:.1f} | {tool} | {r['wall']:.2f} | {r['wall'] / fn:.2f} | "
                f"{r['wall'] / fa:.2f} | {rss} | {de} | {fl} | {orph} |"
            )
    lines += [
        "",
        f"Quantization alone (fit one palette + map 48 frames of 64×64 to 16 colours, median of 30): "
        f"{real_ms:.1f} ms on real frames, {noise_ms:.1f} ms on random noise (the worst case for k-means).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
