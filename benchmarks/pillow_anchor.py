"""Anchor: Pillow's median-cut quantizer, one palette per frame, written as a GIF.

Frames come from pixelnb's sampler at the output size, so the comparison is about the
quantization, not the decoding. Usage: pillow_anchor.py INPUT OUTPUT.gif
"""

from __future__ import annotations

import sys

from PIL import Image

import pixelnb


def main(src: str, dst: str) -> None:
    clip = pixelnb.sample(src, fps=12, size=64, exact=False)
    frames = [
        Image.fromarray(f).quantize(16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        for f in clip.frames
    ]
    frames[0].save(dst, save_all=True, append_images=frames[1:], duration=83, loop=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
