"""The ``pixelnb`` command: ``convert`` a video to pixel art, or run the offline ``demo``.

Kept lean on purpose: it imports only the pipeline (numpy, PyAV, Pillow), never the
notebook or network layers, so start-up stays a small part of a conversion.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pixelnb.errors import PixelnbError

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


def _add_pixel_options(p: argparse.ArgumentParser) -> None:
    from pixelnb.quantize import DITHERS
    from pixelnb.resize import DOWNSCALES

    p.add_argument("--size", type=_size, default=64, help="longest side, or WxH (default 64)")
    p.add_argument("--colors", type=int, default=16, help="palette size, 2..256 (default 16)")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second (default 12)")
    p.add_argument("--palette", default="auto", help="auto, a preset name, or a .hex/.gpl file")
    p.add_argument("--dither", default="none", choices=DITHERS)
    p.add_argument("--downscale", default="area", choices=DOWNSCALES)
    p.add_argument("--scale", type=int, default=1, help="integer upscale of the written file")
    p.add_argument("--start", type=float, default=None, help="start time in seconds")
    p.add_argument("--end", type=float, default=None, help="end time in seconds")
    p.add_argument("--backend", default="auto", choices=("auto", "pyav", "decord"))
    p.add_argument(
        "--exact",
        action="store_true",
        help="decode every frame so each picked frame is the nearest in time (slower)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixelnb", description="Pixel-art animations from videos.")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="convert a video file to pixel art")
    conv.add_argument("input", help="a video file (mp4, mov, webm, ...)")
    conv.add_argument(
        "-o", "--output", required=True, help=".gif, .png (+ .json), .apng, .webp, .html or a folder"
    )
    _add_pixel_options(conv)
    demo = sub.add_parser("demo", help="convert the bundled sample clip and write out/demo.*")
    demo.add_argument("--out", default="out", help="output folder (default out)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _convert(args: argparse.Namespace, bar: ProgressBar) -> Path:
    from pixelnb.pixelate import pixelate

    sprite = pixelate(
        args.input,
        size=args.size,
        colors=args.colors,
        palette=args.palette,
        dither=args.dither,
        fps=args.fps,
        downscale=args.downscale,
        start=args.start,
        end=args.end,
        backend=args.backend,
        exact=args.exact,
        progress=bar,
    )
    bar("writing", 0.0)
    out = sprite.save(args.output, scale=args.scale)
    bar("writing", 1.0)
    return out


def _demo(args: argparse.Namespace, bar: ProgressBar) -> list[Path]:
    from pixelnb.data import SAMPLE_CLIP_CREDIT, sample_clip
    from pixelnb.pixelate import pixelate

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with a one-line message)."""
    args = _parser().parse_args(argv)
    bar = ProgressBar(sys.stderr, enabled=False if args.quiet else None)
    try:
        if args.command == "convert":
            out = _convert(args, bar)
            bar.close()
            print(out)
        else:
            for path in _demo(args, bar):
                print(path)
    except PixelnbError as exc:
        bar.close()
        print(f"pixelnb: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        bar.close()
        print(f"pixelnb: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
