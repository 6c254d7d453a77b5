"""The module-level API: generate, resume and credits on a default manager."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pixelnb.jobs.job import Job
from pixelnb.jobs.manager import JobManager
from pixelnb.luma import GenerationRequest
from pixelnb.options import PixelOptions

__all__ = ["bundle", "credits", "default_manager", "generate", "resume"]

# -- the module-level API ------------------------------------------------------------------------
_default: JobManager | None = None
_default_lock = threading.Lock()


def default_manager() -> JobManager:
    """The manager ``generate``, ``resume`` and ``credits`` use: the default store, the key
    from ``LUMAAI_API_KEY`` (or ``.env``) and the base URL from ``LUMAAI_BASE_URL``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JobManager()
        return _default


def generate(
    prompt: str | None,
    *,
    model: str = "ray-2",
    aspect_ratio: str = "1:1",
    duration: str = "5s",
    resolution: str = "540p",
    loop: bool = False,
    keyframes: Any = None,
    concepts: Sequence[str] | None = None,
    pixel: PixelOptions | dict[str, Any] | None = None,
    fresh: bool = False,
    manager: JobManager | None = None,
) -> Job:
    """Ask Luma for a video of ``prompt`` and turn it into a Sprite, in the background.

    Returns a :class:`Job` at once: ``await job`` (or ``job.result()``) gives the Sprite.
    ``keyframes`` takes an image URL to start from, or ``{"frame0": ..., "frame1": ...}``
    with image URLs, Luma generation ids or finished Jobs (extend, reverse extend,
    interpolate). ``pixel`` holds :func:`pixelnb.pixelate`'s options.
    """
    request = GenerationRequest.build(
        prompt,
        model=model,
        aspect_ratio=aspect_ratio,
        duration=duration,
        resolution=resolution,
        loop=loop,
        keyframes=keyframes,
        concepts=concepts,
    )
    return (manager or default_manager()).submit(request, pixel, fresh=fresh)


def resume(manager: JobManager | None = None) -> list[Job]:
    """Re-attach to every unfinished job in the store and carry it to the end."""
    return (manager or default_manager()).resume()


def credits(manager: JobManager | None = None) -> float:
    """Your Luma credit balance, in US cents."""
    m = manager or default_manager()
    return m.run(m.credits())


def bundle(
    path: str | os.PathLike[str] = "notebook.pixelnb.zip",
    jobs: Iterable[Job | str] | None = None,
    *,
    manager: JobManager | None = None,
) -> Path:
    """Pack the generations ``jobs`` used (Jobs or job ids; by default every job this
    process submitted) into a replay bundle at ``path``: with it, the notebook re-runs with
    no key and pays nothing (:func:`pixelnb.use_bundle`, ``PIXELNB_BUNDLE``)."""
    from pixelnb.errors import BundleError
    from pixelnb.replay import write_bundle

    m = manager or default_manager()
    ids = list(m.submitted) if jobs is None else [j.id if isinstance(j, Job) else str(j) for j in jobs]
    if not ids:
        raise BundleError(path, "no job was submitted in this process; pass jobs=[...] to bundle")
    records = []
    for job_id in ids:
        rec = m.store.get(job_id)
        if rec is None:
            raise BundleError(path, f"job {job_id[:8]} is not in the job store {m.store.path}")
        records.append(rec)
    return write_bundle(path, records)
