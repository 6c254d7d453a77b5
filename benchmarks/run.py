"""Speed, memory and quality of `pixelnb convert` against ffmpeg and Pillow, in one run.

    make bench            (or: .venv/bin/python benchmarks/run.py [--repeat 3])

For every clip (the real clips in ../shared/clips when present, a 10 s 1080p clip made
from one of them, and the bundled sample clip) it runs, each as a fresh process:
- pixelnb:  `python -m pixelnb convert CLIP -o out.gif --size 64 --colors 16 --fps 12`
- ffmpeg:   the static ffmpeg of the imageio-ffmpeg wheel, `fps=12,scale=...:flags=area,
            split, palettegen=max_colors=16, paletteuse` (its default dithering, and none)
- pillow:   pixelnb's sampler, then Pillow median cut per frame (benchmarks/pillow_anchor.py)
- floor:    PyAV decoding the frames and nothing else (benchmarks/decode_floor.py): every
            frame (`all`, what ffmpeg and --exact decode) and with convert's own decoder
            flags (`fast`: reference frames only, no deblocking filter)
and reports the median wall time, the peak RSS, the mean ΔE2000 of each GIF against the
area-downscaled source, and flicker: the share of pixels that change colour between
consecutive frames where the source changed by less than ΔE 2; and orphans: the share of
pixels whose colour differs from all eight neighbours.
It ends with the quantization micro-benchmark (48 frames of 64×64 to 16 colours), the
scale run (`--scale`: a 4K clip of 10, 30 and 60 s) and a table of the speed issue's goals.
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


def make_1080p(
    src: Path, dst: Path, seconds: float = 10.0, size: str = "1920:1080", preset: str = "medium"
) -> Path:
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
            preset,
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
    """Seconds for pixelnb and for the decode floor with its flags in an already running
    process (as in a notebook, where start-up and imports are paid once), after a warm-up."""
    sys.path.insert(0, str(HERE))
    from decode_floor import main as decode

    from pixelnb.pipeline import pixelate

    pixelate(clip, size=64, colors=16, fps=12).save(out)
    decode(str(clip), "fast")
    ours, floor = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        pixelate(clip, size=64, colors=16, fps=12).save(out)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        decode(str(clip), "fast")
        floor.append(time.perf_counter() - t0)
    return statistics.median(ours), statistics.median(floor)


def full_decode_of(clip: Path, picked: pixelnb.Clip, size: tuple[int, int]) -> np.ndarray:
    """The fully decoded (deblocked) pictures of the frames a fast decode picked: what the
    fast frames are judged against, so skipping the deblocking filter shows in ΔE2000."""
    every = pixelnb.sample(clip, size=size, exact=True)
    at = np.abs(every.timestamps[None, :] - picked.timestamps[:, None]).argmin(axis=1)
    return every.frames[at]


def deblock_effect(fast: np.ndarray, full: np.ndarray) -> tuple[float, float, float]:
    """Mean and largest |difference| (of 255) and mean ΔE2000 between the same frames
    decoded with and without the deblocking filter, at the output size."""
    diff = np.abs(fast.astype(np.int16) - full.astype(np.int16))
    de = float(delta_e2000(rgb_to_lab(fast), rgb_to_lab(full)).mean())
    return float(diff.mean()), float(diff.max()), de


def quantize_microbench(repeat: int = 30) -> tuple[float, float]:
    """Median ms to fit a palette and map 48 frames of 64x64 (real frames, and noise)."""
    from pixelnb.pipeline import pixelate

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


def scale_run(ff: str) -> list[tuple[float, float, float, float, float]]:
    """A 60 s 4K H.264 clip (the cockatoo clip scaled up and looped), cut to 10, 30 and
    60 s: (seconds, pixelnb wall, pixelnb peak RSS, ffmpeg wall, ffmpeg peak RSS)."""
    cockatoo = SHARED_CLIPS / "cockatoo_720p_yuv420p.mp4"
    src = cockatoo if cockatoo.exists() else pixelnb.data.sample_clip()
    long = make_1080p(src, WORK / "uhd_60s.mp4", seconds=60, size="3840:2160", preset="ultrafast")
    rows = []
    for secs in (10, 30, 60):
        clip = long if secs == 60 else WORK / f"uhd_{secs}s.mp4"
        if not clip.exists():  # ultrafast has no B-frames: a packet cut ends on a whole frame
            subprocess.run(
                [ff, "-loglevel", "error", "-y", "-i", str(long), "-t", str(secs), "-c", "copy", str(clip)],
                check=True,
            )
        wall, rss = timed(convert(clip, WORK / f"uhd_{secs}s.gif"))
        vf = "fps=12,scale=64:36:flags=area,split[a][b];[a]palettegen=max_colors=16[p];[b][p]paletteuse"
        fwall, frss = timed(
            [ff, "-loglevel", "error", "-y", "-i", str(clip), "-vf", vf, str(WORK / "uhd.ff.gif")]
        )
        rows.append((float(secs), wall, rss, fwall, frss))
        print(f"done 4K {secs} s", file=sys.stderr)
    return rows


TOOLS = ("pixelnb", "pixelnb-exact", "pixelnb-nohyst", "ffmpeg", "ffmpeg-nodither", "pillow")
# The floor each tool is held against: the decode it needs with the flags it uses.
SAME_FLOOR = {"pixelnb": "floor-fast", "pixelnb-nohyst": "floor-fast", "pixelnb-exact": "floor-all"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="run only clips whose name contains this")
    ap.add_argument("--no-scale", action="store_true", help="skip the 4K 10/30/60 s scale run")
    args = ap.parse_args()
    py = sys.executable
    ff = ffmpeg_exe()
    rows = []
    effects = []
    for clip in [c for c in clips() if args.only in c.name]:
        info = pixelnb.probe(clip)
        w, h = pixelnb.video.fit_size(info.width, info.height, 64)
        ref = pixelnb.sample(clip, fps=12, size=(w, h)).frames
        # `convert` picks each frame within one source frame of the exact time (it skips
        # decoding frames nothing depends on) and skips the deblocking filter at this size;
        # it is scored against the full decode of the frames it picked.
        fast = pixelnb.sample(clip, fps=12, size=(w, h), exact=False)
        ref_fast = full_decode_of(clip, fast, (w, h))
        effects.append((clip.name, *deblock_effect(fast.frames, ref_fast)))
        outs = {k: WORK / f"{clip.stem}.{k}.gif" for k in TOOLS}
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
            "floor-fast": [py, str(HERE / "decode_floor.py"), str(clip), "fast"],
        }
        res: dict[str, dict[str, float]] = {}
        # Round-robin: each repeat runs every tool once, so a slow spell of this shared
        # machine falls on all of them alike.
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                runs[name].append(timed(cmd))
        for name in cmds:
            res[name] = {
                "wall": statistics.median(r[0] for r in runs[name]),
                "rss": max(r[1] for r in runs[name]),
            }
            if name in outs:
                res[name]["de"], res[name]["flicker"], res[name]["orphans"] = quality(
                    outs[name], ref_fast if name in SAME_FLOOR and name != "pixelnb-exact" else ref
                )
        ours_warm, floor_warm = warm(clip, WORK / f"{clip.stem}.warm.gif", max(args.repeat, 5))
        res["pixelnb-in-process"] = {"wall": ours_warm, "rss": float("nan"), "floor": floor_warm}
        res["floor-fast-in-process"] = {"wall": floor_warm, "rss": float("nan"), "floor": floor_warm}
        rows.append((clip.name, f"{info.width}x{info.height}", info.duration or 0.0, res))
        print(f"done {clip.name}", file=sys.stderr)
    real_ms, noise_ms = quantize_microbench()
    scale = [] if args.no_scale else scale_run(ff)

    ffmpeg_version = subprocess.run([ff, "-version"], capture_output=True, text=True).stdout.split()[2]
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"PyAV {__import__('av').__version__}, Pillow {Image.__version__}, ffmpeg {ffmpeg_version}. "
        f"Median of {args.repeat} runs each, round-robin; every tool runs as a fresh process "
        "except the in-process rows.",
        "",
        "| clip | size | s | tool | wall s | ×ffmpeg | ×floor (same flags) | peak RSS MB "
        "| mean ΔE2000 | flicker % | orphans % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, size, dur, res in rows:
        ffw = res["ffmpeg"]["wall"]
        for tool in (*TOOLS, "floor-fast", "floor-all", "pixelnb-in-process", "floor-fast-in-process"):
            r = res[tool]
            floor = r.get("floor", res[SAME_FLOOR.get(tool, "floor-all")]["wall"])
            rss = "" if math.isnan(r["rss"]) else f"{r['rss']:.0f}"
            de = f"{r['de']:.2f}" if "de" in r else ""
            fl = f"{100 * r['flicker']:.2f}" if "flicker" in r else ""
            orph = f"{100 * r['orphans']:.2f}" if "orphans" in r else ""
            lines.append(
                f"| {name} | {size} | {dur:.1f} | {tool} | {r['wall']:.2f} | {r['wall'] / ffw:.2f} | "
                f"{r['wall'] / floor:.2f} | {rss} | {de} | {fl} | {orph} |"
            )
    lines += [
        "",
        "Deblocking skipped (the fast frames against the full decode of the same frames, 64 px):",
        "",
        "| clip | mean abs diff /255 | max abs diff /255 | mean ΔE2000 |",
        "|---|---|---|---|",
        *(f"| {n} | {m:.2f} | {x:.0f} | {d:.2f} |" for n, m, x, d in effects),
        "",
        f"Quantization alone (fit one palette + map 48 frames of 64×64 to 16 colours, median of 30): "
        f"{real_ms:.1f} ms on real frames, {noise_ms:.1f} ms on random noise (the worst case for k-means).",
    ]
    if scale:
        lines += [
            "",
            "Scale: a 4K (3840x2160) 25 fps H.264 clip, `pixelnb convert` and ffmpeg's pipeline, "
            "one run each:",
            "",
            "| length s | pixelnb wall s | s per clip-second | pixelnb peak RSS MB "
            "| ffmpeg wall s | ffmpeg peak RSS MB |",
            "|---|---|---|---|---|---|",
            *(
                f"| {n:.0f} | {w:.2f} | {w / n:.3f} | {r:.0f} | {fw:.2f} | {fr:.0f} |"
                for n, w, r, fw, fr in scale
            ),
        ]
    lines += ["", *goals(rows, real_ms, scale)]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results.md").write_text(text, encoding="utf-8")


def goals(rows: list, real_ms: float, scale: list) -> list[str]:
    """The speed issue's goals, each with this run's figures and met / not met."""
    shared = [r for r in rows if (SHARED_CLIPS / r[0]).exists()]
    big = [r for r in rows if "1080p" in r[0]]

    def ratio(res: dict, a: str, b: str) -> float:
        return float(res[a]["wall"] / res[b]["wall"])

    out = ["| goal | this run | met |", "|---|---|---|"]

    def row(goal: str, figures: str, ok: bool) -> None:
        out.append(f"| {goal} | {figures} | {'yes' if ok else '**no**'} |")

    for name, _s, _d, res in big:
        v = ratio(res, "pixelnb", "ffmpeg")
        row(f"fresh command ≤ 0.85× ffmpeg, {name}", f"{v:.2f}×", v <= 0.85)
    if shared:
        vs = {n: ratio(res, "pixelnb", "ffmpeg") for n, _s, _d, res in shared}
        row(
            "fresh command ≤ 1.0× ffmpeg on each shared clip",
            ", ".join(f"{n.split('_')[0]} {v:.2f}×" for n, v in vs.items()),
            max(vs.values()) <= 1.0,
        )
    ip = {n: ratio(res, "pixelnb-in-process", "ffmpeg") for n, _s, _d, res in rows}
    row(
        "in a running process ≤ 0.7× ffmpeg",
        ", ".join(f"{n.split('_')[0]} {v:.2f}×" for n, v in ip.items()),
        max(ip.values()) <= 0.7,
    )
    fl = {
        n: res["pixelnb-in-process"]["wall"] / res["pixelnb-in-process"]["floor"] for n, _s, _d, res in rows
    }
    row(
        "in a running process ≤ 1.2× the decode floor (same flags)",
        ", ".join(f"{n.split('_')[0]} {v:.2f}×" for n, v in fl.items()),
        max(fl.values()) <= 1.2,
    )
    row("quantize 48×64² to 16 colours < 20 ms", f"{real_ms:.1f} ms", real_ms < 20)
    if scale:
        peak = max(r[2] for r in scale)
        per = [r[1] / r[0] for r in scale]
        row("4K 60 s peak RSS < 300 MB", f"{peak:.0f} MB", peak < 300)
        row(
            "4K time linear in length (s per clip-second, 10/30/60 s)",
            " / ".join(f"{p:.3f}" for p in per),
            max(per) <= 1.25 * min(per),
        )
    flick = {n: res["pixelnb"]["flicker"] * 100 for n, _s, _d, res in rows}
    row("flicker < 1 % on every clip", f"max {max(flick.values()):.2f} %", max(flick.values()) < 1)
    orph = [(res["pixelnb"]["orphans"], res["pixelnb-nohyst"]["orphans"]) for _n, _s, _d, res in rows]
    row(
        "orphans ≤ the no-hysteresis run on every clip",
        f"{sum(a <= b for a, b in orph)}/{len(orph)} clips",
        all(a <= b for a, b in orph),
    )
    de = [(res["pixelnb"]["de"], min(res["ffmpeg"]["de"], res["pillow"]["de"])) for _n, _s, _d, res in rows]
    row(
        "ΔE2000 below both anchors", f"{sum(a < b for a, b in de)}/{len(de)} clips", all(a < b for a, b in de)
    )
    half = [(res["pixelnb"]["flicker"], res["ffmpeg"]["flicker"] / 2) for _n, _s, _d, res in rows]
    row(
        "flicker under half of ffmpeg's",
        f"{sum(a < b for a, b in half)}/{len(half)} clips",
        all(a < b for a, b in half),
    )
    return out


if __name__ == "__main__":
    main()
