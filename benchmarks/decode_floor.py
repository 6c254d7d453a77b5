"""The floor: decode a video's frames with PyAV and do nothing else.

Usage: decode_floor.py INPUT [all|nonref|fast]. ``all`` decodes every frame (what exact
sampling needs); ``nonref`` skips non-reference frames; ``fast`` also skips the deblocking
filter: the decoder flags ``pixelnb convert`` uses at 12 fps and 64 px.
"""

from __future__ import annotations

import sys

import av


def main(src: str, mode: str) -> int:
    with av.open(src) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        if mode in ("nonref", "fast"):
            s.codec_context.skip_frame = "NONREF"
        if mode == "fast":
            s.codec_context.options = {"skip_loop_filter": "all"}
        return sum(1 for _ in c.decode(s))


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "all"))
