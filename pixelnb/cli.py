"""The ``pixelnb`` command: convert, sheet, demo, generate, character, jobs, bundle and fake-luma.

``convert`` and ``demo`` import only the pipeline (numpy, PyAV, Pillow), never the
notebook or network layers, so start-up stays a small part of a conversion; the Luma
commands import the job layer when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from pixelnb.errors import OptionError, PixelnbError

if TYPE_CHECKING:
    from pixelnb.options import PixelOptions

__all__ = ["main"]

_STAGES = {"sampling": (0.0, 0.85), "palette": (0.85, 0.9), "quantizing": (0.9, 0.97), "writing": (0.97, 1.0)}


class ProgressBar:
    """A one-line progress bar on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO, enabled: bool | None = None, width: int = 28) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self.t0 = time.monotonic()
        self._last = -1

    def __call__(self, stage: str, frac: float) -> None:
        if not self.enabled:
            return
        lo, hi = _STAGES.get(stage, (0.0, 1.0))
        total = lo + (hi - lo) * max(0.0, min(1.0, frac))
        filled = int(total * self.width)
        pct = int(total * 100)
        if pct == self._last:
            return
        self._last = pct
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {pct:3d}% {stage:<10} {time.monotonic() - self.t0:5.1f}s")
        self.stream.flush()

    def overall(self, fraction: float, label: str) -> None:
        """Draw the bar at ``fraction`` of the whole with a free-form label."""
        if not self.enabled:
            return
        filled = int(max(0.0, min(1.0, fraction)) * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(
            f"\r[{bar}] {int(fraction * 100):3d}% {label:<24} {time.monotonic() - self.t0:6.1f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _size(text: str) -> int | tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            return int(w), int(h)
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write 64 or 64x48") from None


def _add_pixel_options(p: argparse.ArgumentParser, grid_default: str = "off") -> None:
    from pixelnb.quantize import DITHERS
    from pixelnb.resize import DOWNSCALES

    p.add_argument("--size", type=_size, default=64, help="longest side, or WxH (default 64)")
    p.add_argument("--colors", type=int, default=16, help="palette size, 2..256 (default 16)")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    p.add_argument("--palette", default="auto", help="auto, a preset name, or a .hex/.gpl file")
    p.add_argument("--dither", default="none", choices=DITHERS)
    p.add_argument("--downscale", default="area", choices=DOWNSCALES)
    p.add_argument("--scale", type=int, default=1, help="integer upscale of the written file")
    p.add_argument(
        "--grid",
        default=grid_default,
        choices=("auto", "off"),
        help=f"find the pixel grid of AI pixel-art video (default {grid_default})",
    )
    p.add_argument("--start", type=float, default=None, help="start time in seconds")
    p.add_argument("--end", type=float, default=None, help="end time in seconds")
    p.add_argument("--backend", default="pyav", choices=("pyav", "decord"))
    p.add_argument(
        "--exact",
        action="store_true",
        help="decode every frame so each picked frame is the nearest in time (slower)",
    )
    p.add_argument(
        "--background",
        default="keep",
        help="keep, auto (make the background transparent) or a colour to key out (#00ff00)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


# The preset actions of `pixelnb character` (pixelnb.jobs.character.ACTIONS), named here so
# that --help does not load the job layer.
ACTION_NAMES = ("idle", "walk", "run", "jump", "attack")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    """A message on one line: newlines in a file name are shown as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pixelnb", description="Pixel-art animations from videos.")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a video file to pixel art")
    conv.add_argument(
        "input",
        nargs="+",
        help="a video file (mp4, mov, webm, ...); several files or a quoted pattern ('clips/*.mp4') "
        "convert them all into the -o folder",
    )
    conv.add_argument(
        "-o",
        "--output",
        required=True,
        help=".gif, .png (+ .json), .apng, .webp, .html or a folder (of frames; of outputs for a batch)",
    )
    _add_pixel_options(conv)
    conv.add_argument("--crop", action="store_true", help="crop to the opaque pixels of all frames")
    conv.add_argument(
        "--pattern",
        default="{stem}.gif",
        help="a batch's output names, e.g. '{stem}.webp' (default {stem}.gif)",
    )
    conv.add_argument("--workers", type=int, default=None, help="a batch's processes (default: the cores)")
    conv.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="run a batch on a Dask cluster (tcp://host:8786)"
    )
    conv.add_argument(
        "--like",
        default=None,
        metavar="FILE",
        help="re-use the options recorded in a file pixelnb wrote (options given here win)",
    )
    # (generate's --loop asks Luma for a looping video; here it trims the conversion)
    conv.add_argument(
        "--loop",
        dest="pixel_loop",
        default="off",
        choices=("auto", "off"),
        help="trim to the best seamless loop",
    )
    demo = sub.add_parser("demo", help="convert the bundled sample clip and write out/demo.*")
    demo.add_argument("--out", default="out", help="output folder (default out)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    gen = sub.add_parser("generate", help="ask Luma for a video of a prompt and convert it")
    gen.add_argument("prompt", help='what to show, e.g. "a cute pixel art cat walking in a garden"')
    gen.add_argument(
        "-o", "--output", required=True, help=".gif, .png (+ .json), .apng, .webp, .html or a folder"
    )
    gen.add_argument("--model", default="ray-2", choices=("ray-2", "ray-flash-2"))
    gen.add_argument("--aspect-ratio", default="1:1", help="1:1, 16:9, 9:16, 4:3, 3:4, 21:9 or 9:21")
    gen.add_argument("--duration", default="5s", choices=("5s", "9s"))
    gen.add_argument("--resolution", default="540p", choices=("540p", "720p", "1080p", "4k"))
    gen.add_argument("--loop", action="store_true", help="ask for a seamless loop")
    gen.add_argument("--keyframe", default=None, help="an image URL to start from (image-to-video)")
    gen.add_argument("--end-keyframe", default=None, help="an image URL (or generation id) to end on")
    gen.add_argument("--concept", action="append", default=[], help="a camera concept, e.g. dolly_zoom")
    gen.add_argument(
        "--fresh", action="store_true", help="pay for a new take even if this request ran before"
    )
    gen.add_argument("--store", default=None, help="the job store file (default: the per-user cache)")
    _add_pixel_options(gen, grid_default="auto")

    jobs = sub.add_parser("jobs", help="list the job store, or resume its unfinished jobs")
    jobs.add_argument("action", nargs="?", default="list", choices=("list", "resume"))
    jobs.add_argument("--store", default=None, help="the job store file (default: the per-user cache)")

    char = sub.add_parser(
        "character", help="design a character with Photon, animate it with Ray, write one sprite sheet"
    )
    char.add_argument("prompt", help='who, e.g. "a knight in silver armour"')
    char.add_argument(
        "-o", "--output", required=True, help=".png (sheet + .json), .tres (+ .png) or a folder"
    )
    char.add_argument(
        "--actions", default="idle,walk", help=f"comma-separated, from: {', '.join(ACTION_NAMES)}"
    )
    char.add_argument("--n", type=int, default=4, help="candidates to design (default 4)")
    char.add_argument("--pick", type=int, default=0, help="which candidate to animate (default 0)")
    char.add_argument("--image-model", default="photon-1", choices=("photon-1", "photon-flash-1"))
    char.add_argument("--model", default="ray-2", choices=("ray-2", "ray-flash-2"))
    char.add_argument("--duration", default="5s", choices=("5s", "9s"))
    char.add_argument("--resolution", default="540p", choices=("540p", "720p", "1080p", "4k"))
    char.add_argument("--godot", action="store_true", help="with a .png output, also write the Godot .tres")
    char.add_argument("--yes", action="store_true", help="spend without asking")
    char.add_argument("--store", default=None, help="the job store file (default: the per-user cache)")
    _add_pixel_options(char, grid_default="auto")
    char.set_defaults(background="auto")

    sheet = sub.add_parser(
        "sheet", help="several animations of one character as one sprite sheet (+ JSON, + Godot .tres)"
    )
    sheet.add_argument("animations", nargs="+", metavar="NAME=VIDEO", help="e.g. idle=idle.mp4 walk=walk.mp4")
    sheet.add_argument(
        "-o", "--output", required=True, help=".png (sheet + .json), .tres (+ .png) or a folder (a GIF each)"
    )
    sheet.add_argument("--godot", action="store_true", help="with a .png output, also write the Godot .tres")
    sheet.add_argument("--res-dir", default="res://", help="where the sheet sits in the Godot project")
    sheet.add_argument("--anchor", default="bottom", choices=("bottom", "center", "none"))
    sheet.add_argument("--pad", type=int, default=0, help="clear pixels around every frame")
    sheet.add_argument("--loop", dest="pixel_loop", default="off", choices=("auto", "off"))
    _add_pixel_options(sheet)
    sheet.set_defaults(background="auto")

    bund = sub.add_parser(
        "bundle", help="pack the generations a notebook used into a replay bundle (no key needed to re-run)"
    )
    bund.add_argument("notebook", help="an executed .ipynb with its outputs saved")
    bund.add_argument("-o", "--output", required=True, help="the bundle to write (.zip)")
    bund.add_argument("--store", default=None, help="the job store file (default: the per-user cache)")

    fake = sub.add_parser("fake-luma", help="serve a loopback fake of the Dream Machine API")
    fake.add_argument("--port", type=int, default=8765)
    fake.add_argument(
        "--video", default=None, help="the MP4 every generation returns (default: the sample clip)"
    )
    fake.add_argument("--api-key", default=None, help="accept only this key (default: any non-empty key)")
    fake.add_argument("--queue-seconds", type=float, default=2.0)
    fake.add_argument("--dream-seconds", type=float, default=8.0)
    fake.add_argument(
        "--state", default=None, help="a JSON file that keeps the generations across restarts of the fake"
    )
    return parser


def _given(argv: Sequence[str] | None) -> set[str]:
    """The convert options written on the command line (not left at their defaults)."""
    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices["convert"]._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


# convert's flags by the PixelOptions field they set, where the names differ.
_FLAG_FIELDS = {"pixel_loop": "loop"}


def _like(args: argparse.Namespace, given: set[str]) -> None:
    """Fill ``args`` from the options recorded in ``args.like``; flags given win."""
    from pixelnb.options import PixelOptions
    from pixelnb.stamp import provenance

    rec = provenance(args.like)
    recorded = rec.get("options")
    if not isinstance(recorded, dict):
        raise OptionError(f"{args.like} records no pixel options (it was not made by pixelate)")
    if recorded.get("grid") not in ("auto", "off"):
        recorded = {**recorded, "grid": "auto"}  # a Grid object found for another video
    opts = PixelOptions.coerce(recorded)  # checks it: a hand-edited record fails here
    for name, value in opts.kwargs().items():
        flag = next((f for f, field in _FLAG_FIELDS.items() if field == name), name)
        if flag not in given:
            setattr(args, flag, value)
    if "scale" not in given:
        args.scale = int(rec.get("scale") or 1)
    if "crop" not in given and "crop" in (rec.get("edits") or {}):
        args.crop = True


def _is_batch(args: argparse.Namespace) -> bool:
    import glob

    return (
        len(args.input) > 1
        or glob.has_magic(args.input[0])
        or args.workers is not None
        or args.scheduler is not None
    )


def _convert_batch(args: argparse.Namespace, bar: ProgressBar) -> int:
    """Convert many files; one line per failure and a summary; exit 1 if any failed."""
    from pixelnb.batch import BatchItem, convert_many
    from pixelnb.export import FORMATS

    opts = _pixel_options(args)
    if args.workers is not None and args.scheduler is not None:
        raise OptionError("give --workers (a local pool) or --scheduler (a Dask cluster), not both")
    if Path(args.output).suffix.lower() in FORMATS:
        raise OptionError(
            f"several inputs are written into a folder, not {args.output!r}: give -o a folder "
            "(names come from --pattern, default '{stem}.gif')"
        )

    def progress(done: int, total: int, item: BatchItem) -> None:
        bar.overall(done / total, f"{done}/{total} files")

    result = convert_many(
        args.input,
        args.output,
        pattern=args.pattern,
        executor=args.scheduler,
        workers=args.workers,
        scale=args.scale,
        crop=args.crop,
        progress=progress,
        **opts.kwargs(),
    )
    bar.close()
    for item in result:
        if item.status == "failed":
            print(f"pixelnb: failed: {_one_line(item.input)}: {_one_line(item.error or '')}", file=sys.stderr)
        else:
            print(item.output)
    print(result.summary(), file=sys.stderr)
    return 1 if result.failed else 0


def _convert(args: argparse.Namespace, bar: ProgressBar) -> Path:
    from pixelnb.export import check_target
    from pixelnb.pipeline import pixelate_with

    opts = _pixel_options(args)
    opts.check_output(args.scale)
    check_target(args.output)  # before decoding: a typo in -o should not cost a conversion
    sprite = pixelate_with(args.input[0], opts, progress=bar)
    if args.crop:
        sprite = sprite.crop()
    bar("writing", 0.0)
    out = sprite.save(args.output, scale=args.scale)
    bar("writing", 1.0)
    return out


def _demo(args: argparse.Namespace, bar: ProgressBar) -> list[Path]:
    from pixelnb.data import SAMPLE_CLIP_CREDIT, sample_clip
    from pixelnb.pipeline import pixelate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sprite = pixelate(sample_clip(), size=64, colors=16, fps=12, progress=bar)
    bar("writing", 0.0)
    paths = [sprite.save(out / "demo.gif", scale=4), sprite.save(out / "demo.png"), out / "demo.json"]
    paths.append(sprite.save(out / "demo.html"))
    bar("writing", 1.0)
    bar.close()
    print(f"{sprite!r} from the bundled clip ({SAMPLE_CLIP_CREDIT})")
    return paths


def _pixel_options(args: argparse.Namespace) -> PixelOptions:
    """The command's pixel options, checked (an OptionError names the bad one)."""
    from pixelnb.options import PixelOptions

    return PixelOptions(
        size=args.size,
        colors=args.colors,
        palette=args.palette,
        dither=args.dither,
        fps=args.fps,
        downscale=args.downscale,
        grid=args.grid,
        start=args.start,
        end=args.end,
        backend=args.backend,
        exact=args.exact,
        background=args.background,
        loop=getattr(args, "pixel_loop", "off"),
        **({"hysteresis": args.hysteresis} if hasattr(args, "hysteresis") else {}),
    )


def _follow(job: object, bar: ProgressBar) -> None:
    """Print each state change of a job on its own line and keep a progress bar below."""
    from pixelnb.jobs import Job

    assert isinstance(job, Job)
    last = [""]

    def show(j: Job) -> None:
        if j.state != last[0]:
            last[0] = j.state
            if bar.enabled:
                bar.stream.write("\r" + " " * 70 + "\r")
            extra = f" ({j.luma_id})" if j.state in ("queued", "dreaming") and j.luma_id else ""
            print(f"{time.strftime('%H:%M:%S')} {j.id[:8]} {j.state}{extra}", file=sys.stderr)
        bar.overall(j.progress.fraction, f"{j.progress.stage} {j.elapsed:.0f}s")

    job.on_change(show)
    show(job)


def _print_states(job: object) -> None:
    from pixelnb.jobs import Job

    assert isinstance(job, Job)
    last = [job.state]

    def show(j: Job) -> None:
        if j.state != last[0]:
            last[0] = j.state
            print(f"{time.strftime('%H:%M:%S')} {j.id[:8]} {j.state}", file=sys.stderr)

    job.on_change(show)


def _generate(args: argparse.Namespace, bar: ProgressBar) -> int:
    import asyncio

    from pixelnb.export import check_target
    from pixelnb.jobs import JobManager
    from pixelnb.luma import GenerationRequest

    keyframes: dict[str, str] | None = None
    if args.keyframe or args.end_keyframe:
        keyframes = {k: v for k, v in (("frame0", args.keyframe), ("frame1", args.end_keyframe)) if v}
    # Everything that can be checked here is checked before anything is paid for.
    opts = _pixel_options(args)
    opts.check_output(args.scale)
    out = check_target(args.output)
    request = GenerationRequest.build(
        args.prompt,
        model=args.model,
        aspect_ratio=args.aspect_ratio,
        duration=args.duration,
        resolution=args.resolution,
        loop=args.loop,
        keyframes=keyframes,
        concepts=args.concept,
    )

    async def run() -> int:
        manager = JobManager(args.store)
        # No key is needed when the video is cached or in a replay bundle: submit asks for
        # one only when the request must reach Luma.
        job = manager.submit(request, opts, fresh=args.fresh)
        manager.store.update(job.id, outputs=[str(out.resolve())])  # a resumed job writes here too
        _follow(job, bar)
        try:
            sprite = await job
        finally:
            await manager.client.aclose()
        bar.close()
        print(sprite.save(out, scale=args.scale))
        return 0

    return asyncio.run(run())


def _jobs(args: argparse.Namespace, bar: ProgressBar) -> int:
    import asyncio

    from pixelnb.jobs import JobManager
    from pixelnb.store import JobStore

    store = JobStore(args.store)
    if args.action == "list":
        now = time.time()
        rows = store.all()
        print(f"{'id':8}  {'state':11}  {'age':>7}  {'prompt':32}  files")
        for r in rows:
            age = now - r.created_at
            age_s = (
                f"{age / 3600:.1f}h" if age >= 3600 else f"{age / 60:.1f}m" if age >= 60 else f"{age:.0f}s"
            )
            prompt = r.prompt if len(r.prompt) <= 32 else r.prompt[:29] + "..."
            files = " ".join([*(r.outputs or []), *([r.video_path] if r.video_path else [])])
            print(f"{r.id[:8]}  {r.state:11}  {age_s:>7}  {prompt:32}  {files}")
            if r.state == "failed" and r.error:
                print(f"{'':8}  {r.error}")
        if not rows:
            print(f"(no jobs in {store.path})")
        return 0

    async def run() -> int:
        manager = JobManager(store)
        jobs = manager.resume()
        if not jobs:
            print("no unfinished jobs", file=sys.stderr)
            return 0
        for job in jobs:
            _print_states(job)
        code = 0
        for job in jobs:
            try:
                sprite = await job
            except PixelnbError as exc:
                print(f"{job.id[:8]} failed: {exc}", file=sys.stderr)
                code = 1
                continue
            rec = store.get(job.id)
            targets = rec.outputs if rec and rec.outputs else [f"out/{job.id[:8]}.gif"]
            for t in targets:
                Path(t).parent.mkdir(parents=True, exist_ok=True)
                print(sprite.save(t))
        return code

    return asyncio.run(run())


def _set_target(args: argparse.Namespace, what: str) -> Path:
    """Where a sprite set goes (-o), checked before any work: .png, .tres or a folder."""
    out = Path(args.output)
    if out.suffix.lower() not in ("", ".png", ".tres"):
        raise OptionError(f"{what} is written as .png, .tres or a folder, not {out.suffix!r}")
    if args.godot and out.suffix.lower() != ".png":
        raise OptionError("--godot writes a .tres beside a .png sheet: give -o NAME.png")
    if out.suffix and not out.parent.exists():
        raise OptionError(f"the folder {str(out.parent)!r} does not exist; create it first")
    return out


def _confirm(what: str, yes: bool) -> None:
    """Ask before spending; without a terminal, --yes is needed."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise OptionError(f"this will {what}; add --yes to confirm")
    answer = input(f"This will {what}. Go on? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise OptionError("stopped before spending anything")


def _character(args: argparse.Namespace, bar: ProgressBar) -> int:
    """pixelnb character: design, pick, animate, write the set (saying the cost first)."""
    from pixelnb.jobs import JobManager
    from pixelnb.jobs.character import action_prompts, animate, design
    from pixelnb.luma import GenerationRequest, ImageRequest
    from pixelnb.replay import active_bundle, is_offline

    out = _set_target(args, "a character")
    if not 0 <= args.pick < args.n:
        raise OptionError(f"--pick must be from 0 to {args.n - 1} (there are {args.n} candidates)")
    actions = [a.strip() for a in args.actions.split(",") if a.strip()]
    opts = _pixel_options(args)
    opts.check_output(args.scale)
    # Everything that can be checked is checked before the first generation is paid for.
    prompts = action_prompts(actions, args.prompt, args.background)
    ImageRequest.build_image(args.prompt, model=args.image_model)
    for text in prompts.values():
        GenerationRequest.build(
            text, model=args.model, duration=args.duration, resolution=args.resolution,
            loop=True, keyframes={"frame0": "https://example.org/character.png"},
        )  # fmt: skip
    manager = JobManager(args.store)
    count = args.n + len(actions)
    what = (
        f"ask Luma for up to {count} generations ({args.n} Photon images, {len(actions)} Ray videos: "
        f"{', '.join(actions)}); any already in the job store are reused, not paid again"
    )
    offline = is_offline() or active_bundle() is not None
    before = None if offline else manager.run(manager.credits())
    if before is not None:
        what += f"; your balance is {before:.0f} credits"
    print(f"pixelnb: {what}", file=sys.stderr)
    _confirm(what, args.yes)
    candidates = design(args.prompt, n=args.n, model=args.image_model, pixel=opts, manager=manager)
    chosen = candidates.pick(args.pick).job
    chosen.result()
    print(
        f"designed {args.n} candidates; animating candidate {args.pick} ({chosen.video_url})", file=sys.stderr
    )
    set_job = animate(
        candidates, actions=actions, model=args.model, duration=args.duration,
        resolution=args.resolution, background=args.background, pixel=opts, manager=manager,
    )  # fmt: skip
    hero = set_job.result()
    written = [hero.save(out, scale=args.scale)]
    if args.godot:
        written.append(hero.save(out.with_suffix(".tres"), scale=args.scale))
    bar.close()
    for path in written:
        print(path)
    if set_job.failed:
        print(f"pixelnb: {set_job.report()}", file=sys.stderr)
    after = None if offline else manager.run(manager.credits())
    spent = (
        f"; balance {after:.0f} credits (was {before:.0f})"
        if after is not None and before is not None
        else ""
    )
    print(f"{hero!r}{spent}", file=sys.stderr)
    manager.close()
    return 1 if set_job.failed else 0


def _sheet(args: argparse.Namespace, bar: ProgressBar) -> int:
    """pixelnb sheet: one SpriteSet from NAME=VIDEO pairs, written as asked."""
    from pixelnb.sets import pixelate_set

    sources: dict[str, str] = {}
    for item in args.animations:
        name, sep, video = item.partition("=")
        if not sep or not name.strip() or not video:
            raise OptionError(f"{item!r} is not NAME=VIDEO; write, for example, walk=walk.mp4")
        if name in sources:
            raise OptionError(f"the animation {name!r} is given twice")
        sources[name] = video
    out = _set_target(args, "a sheet")
    opts = _pixel_options(args)
    opts.check_output(args.scale)
    bar("sampling", 0.0)
    hero = pixelate_set(sources, anchor=args.anchor, pad=args.pad, **opts.kwargs())
    bar("writing", 0.0)
    written = [hero.save(out, scale=args.scale, res_dir=args.res_dir)]
    if args.godot:
        written.append(hero.save(out.with_suffix(".tres"), scale=args.scale, res_dir=args.res_dir))
    bar.close()
    for path in written:
        print(path)
    if out.suffix.lower() == ".png":
        print(out.with_suffix(".json"))
    print(repr(hero), file=sys.stderr)
    return 0


def notebook_requests(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """The (kind, request hash) of every generation a saved notebook's outputs show: its
    Jobs and the Sprites they made (they say so in their output metadata)."""
    import json

    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OptionError(f"cannot read the notebook {str(path)!r}: {exc.strerror or exc}") from None
    except ValueError:
        raise OptionError(f"{str(path)!r} is not a notebook (.ipynb JSON)") from None
    found: dict[tuple[str, str], None] = {}
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        for out in cell.get("outputs", []) or []:
            meta = (out.get("metadata") or {}).get("pixelnb") or {}
            for what in ("job", "generation"):
                ref = meta.get(what) or {}
                if ref.get("request_hash"):
                    found[(str(ref.get("kind") or "video"), str(ref["request_hash"]))] = None
    return list(found)


def _bundle(args: argparse.Namespace) -> int:
    from pixelnb.replay import write_bundle
    from pixelnb.store import JobStore

    wanted = notebook_requests(args.notebook)
    if not wanted:
        raise OptionError(
            f"{args.notebook} shows no generation in its outputs: run it and save it with its outputs "
            "(or call pixelnb.bundle() in its last cell)"
        )
    store = JobStore(args.store)
    records = []
    for kind, request_hash in wanted:
        recs = [r for r in store.with_hash(request_hash) if r.kind == kind]
        done = [r for r in recs if r.state == "completed" and r.video_path and Path(r.video_path).is_file()]
        if not done:
            raise OptionError(
                f"the notebook's generation {request_hash[:12]} has no finished video in {store.path}; "
                "run the notebook with this store (or pass --store) first"
            )
        records.append(done[0])
    out = write_bundle(args.output, records)
    print(out)
    print(f"{len(records)} generation(s) from {args.notebook}", file=sys.stderr)
    return 0


def _fake_luma(args: argparse.Namespace) -> int:
    from pixelnb.testing import FakeLuma

    fake = FakeLuma(
        args.video,
        api_key=args.api_key,
        port=args.port,
        queue_seconds=args.queue_seconds,
        dream_seconds=args.dream_seconds,
        state=args.state,
    )
    fake.start()
    print(f"fake Dream Machine API on {fake.base_url}", flush=True)
    print(f"export LUMAAI_BASE_URL={fake.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def _one_blas_thread() -> None:
    """Start numpy's BLAS with one thread when this process has not loaded numpy yet.

    The pipeline's matrix products are small (16 colours × 3 channels), so BLAS threads buy
    nothing, and starting OpenBLAS's pool costs about 60 ms of every command's start-up
    (benchmarks/README.md). A value the user set is kept.
    """
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ.setdefault(var, "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with a one-line message)."""
    _one_blas_thread()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return int(exc.code or 0)
    bar = ProgressBar(sys.stderr, enabled=False if getattr(args, "quiet", False) else None)
    try:
        if args.command == "convert":
            if args.like:
                _like(args, _given(argv))
            if _is_batch(args):
                return _convert_batch(args, bar)
            out = _convert(args, bar)
            bar.close()
            print(out)
        elif args.command == "demo":
            for path in _demo(args, bar):
                print(path)
        elif args.command == "generate":
            return _generate(args, bar)
        elif args.command == "jobs":
            return _jobs(args, bar)
        elif args.command == "bundle":
            return _bundle(args)
        elif args.command == "sheet":
            return _sheet(args, bar)
        elif args.command == "character":
            return _character(args, bar)
        else:
            return _fake_luma(args)
    except PixelnbError as exc:
        bar.close()
        print(f"pixelnb: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        bar.close()
        print("pixelnb: interrupted; unfinished jobs carry on with `pixelnb jobs resume`", file=sys.stderr)
        return 130
    except OSError as exc:
        bar.close()
        what = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
        print(f"pixelnb: error: {_one_line(what)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
