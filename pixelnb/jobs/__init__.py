"""Jobs: a prompt becomes a Sprite in the background, followed, stored and resumable.

A :class:`Job` moves through ``pending → queued → dreaming → downloading → sampling →
pixelating → completed`` (or ``failed`` / ``cancelled``). :meth:`JobManager.submit`
returns one at once, with no network wait, and runs it on the running event loop (a
notebook's) or, in a plain script, on a background loop of the manager's. Every change
is written to the :class:`~pixelnb.store.JobStore` first, so nothing is lost when the
kernel restarts: :meth:`JobManager.resume` re-attaches to unfinished generations without
creating new ones, and the same request finds its finished generation and cached video
instead of paying again (unless ``fresh=True``).
"""

from pixelnb.jobs.api import bundle, credits, default_manager, generate, resume
from pixelnb.jobs.character import ACTIONS, Design, SetJob, animate, design, restyle
from pixelnb.jobs.events import JobEvent, Progress
from pixelnb.jobs.job import Job
from pixelnb.jobs.manager import JOB_DEFAULTS, JobManager
from pixelnb.jobs.sweeps import SweepItem, SweepResult, sweep
from pixelnb.options import PixelOptions

__all__ = [
    "ACTIONS",
    "JOB_DEFAULTS",
    "Design",
    "Job",
    "JobEvent",
    "JobManager",
    "PixelOptions",
    "Progress",
    "SetJob",
    "SweepItem",
    "SweepResult",
    "animate",
    "bundle",
    "credits",
    "default_manager",
    "design",
    "generate",
    "restyle",
    "resume",
    "sweep",
]
