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

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pixelnb import errors as _errors
from pixelnb.download import MAX_BYTES, download, file_sha256
from pixelnb.errors import (
    GenerationFailed,
    InternalError,
    JobCancelled,
    LumaError,
    LumaUnavailable,
    PixelnbError,
    StoreError,
)
from pixelnb.luma import GenerationRequest, LumaClient, PollPolicy, failure_error
from pixelnb.options import PixelOptions
from pixelnb.sprite import Sprite
from pixelnb.store import LEASE_SECONDS, TERMINAL, JobRecord, JobStore, lease_owner

__all__ = [
    "Job",
    "JobEvent",
    "JobManager",
    "Progress",
    "credits",
    "default_manager",
    "generate",
    "resume",
]

log = logging.getLogger("pixelnb.jobs")
T = TypeVar("T")

# Where each state sits on the overall progress bar.
_SPAN = {
    "pending": (0.0, 0.02),
    "queued": (0.02, 0.1),
    "dreaming": (0.1, 0.8),
    "downloading": (0.8, 0.88),
    "sampling": (0.88, 0.96),
    "pixelating": (0.96, 1.0),
    "completed": (1.0, 1.0),
    "failed": (1.0, 1.0),
    "cancelled": (1.0, 1.0),
}
TYPICAL_DREAM_SECONDS = 150.0  # Luma's typical render time; only shapes the progress bar
# Failures that resuming can carry on from without paying again.
_RESUMABLE_ERRORS = ("LumaUnavailable", "DownloadError", "DiskFull", "StoreError")
_CREATING = "sending create"
# A job's pixel options default to a game sprite's rate, and look for the grid Luma's
# "pixel art" only imitates.
JOB_DEFAULTS: dict[str, Any] = {"fps": 12.0, "grid": "auto"}


@dataclass(frozen=True)
class Progress:
    """How far a job is: ``fraction`` of the whole (0–1) and the ``stage`` it is in."""

    fraction: float
    stage: str

    def __str__(self) -> str:
        return f"{self.stage} {self.fraction:.0%}"


@dataclass(frozen=True)
class JobEvent:
    """A change of a job's state or progress."""

    job_id: str
    state: str
    progress: Progress
    time: float
    error: PixelnbError | None = None


def _error_fields(err: PixelnbError) -> dict[str, Any]:
    """What to store of an error besides its text: its hint and the fields to branch on."""
    if isinstance(err, LumaError):
        return {"error_hint": err.hint or None, "error_fields": err.fields()}
    keep = {k: getattr(err, k) for k in ("path", "problem", "what") if isinstance(getattr(err, k, None), str)}
    return {"error_hint": None, "error_fields": keep}


def _error_from(rec: JobRecord) -> PixelnbError | None:
    """The error a stored job failed with, rebuilt as its own type with its hint and fields."""
    if not rec.error:
        return None
    cls = getattr(_errors, rec.error_type or "", None)
    if not (isinstance(cls, type) and issubclass(cls, PixelnbError)):
        return PixelnbError(rec.error)
    err = cls.__new__(cls)
    Exception.__init__(err, rec.error)
    if isinstance(err, LumaError):
        hint = rec.error_hint or ""
        err.hint = hint
        err.message = rec.error.removesuffix(f" — {hint}") if hint else rec.error
        for name in LumaError.FIELDS:
            setattr(err, name, rec.error_fields.get(name))
    elif isinstance(err, _errors.InternalError):
        err.message = rec.error
    else:
        for name, value in rec.error_fields.items():
            setattr(err, name, value)
    return err


def _check_fits(opts: PixelOptions, request: GenerationRequest) -> None:
    """Refuse a size larger than the video the request will get (pixelnb only shrinks)."""
    vw, vh = request.frame_size()
    size = opts.size
    if isinstance(size, int) and size > max(vw, vh):
        raise _errors.OptionError(
            f"size {size} is larger than the {vw}x{vh} video a {request.resolution} "
            f"{request.aspect_ratio} generation gives; choose at most {max(vw, vh)}"
        )
    if isinstance(size, tuple) and (size[0] > vw or size[1] > vh):
        raise _errors.OptionError(
            f"size {size[0]}x{size[1]} is larger than the {vw}x{vh} video a {request.resolution} "
            f"{request.aspect_ratio} generation gives"
        )


class Job:
    """One prompt on its way to a Sprite. Await it, or call :meth:`result`."""

    def __init__(self, manager: JobManager, rec: JobRecord) -> None:
        self.id = rec.id
        self.request = GenerationRequest.from_json(rec.request)
        self.pixel = PixelOptions.from_json(rec.pixel)
        self.luma_id = rec.luma_id
        self.state = rec.state
        self.history: list[tuple[str, float, str]] = list(rec.history)
        self.error: PixelnbError | None = _error_from(rec)
        self.progress = Progress(_SPAN.get(rec.state, (0.0, 0.0))[0], rec.state)
        self.video_path: Path | None = Path(rec.video_path) if rec.video_path else None
        self.video_url = rec.video_url
        self.created_at = rec.created_at
        self.sprite: Sprite | None = None
        self._manager = manager
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel_requested = False
        self._interrupted = False  # its manager closed: stop following, keep the record as is
        self._done: concurrent.futures.Future[Sprite] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Job], None]] = []
        self._subscribers: list[Callable[[JobEvent], None]] = []
        self._frame_listeners: list[Callable[[Any], None]] = []

    def __repr__(self) -> str:
        prompt = self.request.prompt or "(image keyframe)"
        prompt = prompt if len(prompt) <= 40 else prompt[:37] + "..."
        return f"<Job {self.id[:8]} {self.state} {self.progress.fraction:.0%} {prompt!r}>"

    # -- observing -------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds since the job was submitted (until it ended, once it has)."""
        end = self.history[-1][1] if self.state in TERMINAL and self.history else time.time()
        return end - self.created_at

    def done(self) -> bool:
        return self._done.done()

    def on_change(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Call ``callback(job)`` after every change; returns a function that stops it."""
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def on_frame(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` with each source frame (RGB array) as it is decoded,
        on the job's event loop: a live frame grid fills from it. Returns a function that
        stops it."""
        with self._lock:
            self._frame_listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._frame_listeners:
                    self._frame_listeners.remove(callback)

        return remove

    def _event(self) -> JobEvent:
        return JobEvent(self.id, self.state, self.progress, time.time(), self.error)

    async def events(self) -> AsyncIterator[JobEvent]:
        """``async for event in job.events()``: the current state, then every change,
        ending after the final state."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()

        def push(ev: JobEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, ev)

        with self._lock:
            self._subscribers.append(push)
            first = self._event()
        try:
            yield first
            if first.state in TERMINAL:
                return
            while True:
                ev = await queue.get()
                yield ev
                if ev.state in TERMINAL:
                    return
        finally:
            with self._lock:
                self._subscribers.remove(push)

    def _notify(self) -> None:
        ev = self._event()
        with self._lock:
            callbacks = list(self._callbacks)
            subscribers = list(self._subscribers)
        for push in subscribers:
            push(ev)
        for cb in callbacks:
            try:
                cb(self)
            except Exception:  # a display callback must not stop the job
                log.exception("an on_change callback of job %s failed", self.id[:8])

    # -- results -----------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop following the job; it ends ``cancelled``. The generation stays at Luma."""
        self._cancel_requested = True
        task, loop = self._task, self._loop
        if task is not None and loop is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    # -- the manager's side: the only parts of a Job that JobManager touches -------------------
    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _started(self, task: asyncio.Task[None] | None) -> None:
        self._task = task

    def _finish(self, outcome: Sprite | PixelnbError) -> None:
        self._task = None
        if self._done.done():
            return
        if isinstance(outcome, Sprite):
            self._done.set_result(outcome)
        else:
            self._done.set_exception(outcome)

    def _runs_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._loop is loop

    def _pending(self) -> asyncio.Task[None] | None:
        return self._task

    def _frame_sinks(self) -> list[Callable[[Any], None]]:
        with self._lock:
            return list(self._frame_listeners)

    def _interrupt(self) -> None:
        """Stop following (the manager is closing); the record stays resumable."""
        self._interrupted = True
        task, loop = self._task, self._loop
        if task is not None and loop is not None and not task.done() and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def __await__(self) -> Any:
        return asyncio.wrap_future(self._done).__await__()

    def result(self, timeout: float | None = None) -> Sprite:
        """Block until the Sprite is ready (or raise the job's error).

        Works with or without a running event loop: in a notebook cell, nest-asyncio lets
        the kernel's loop keep running the job while this waits.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        try:
            if running is not None and running is self._loop:
                import nest_asyncio

                nest_asyncio.apply(running)
                fut = asyncio.wrap_future(self._done, loop=running)
                return running.run_until_complete(asyncio.wait_for(asyncio.shield(fut), timeout))
            return self._done.result(timeout)
        except (asyncio.TimeoutError, concurrent.futures.TimeoutError):
            raise TimeoutError(
                f"job {self.id[:8]} is still {self.state} after {timeout} s; it keeps running"
            ) from None


class JobManager:
    """Submits, follows and resumes jobs; one store, one Luma client.

    ``poll`` sets the polling backoff and deadline; ``max_active`` caps the generations
    followed at once (Luma allows 10 per key) so that a burst of submits queues.
    """

    def __init__(
        self,
        store: JobStore | str | Path | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: LumaClient | None = None,
        poll: PollPolicy | None = None,
        max_active: int = 10,
        creates_per_minute: int = 20,
        timeout: float = 30.0,
        allow_http_loopback: bool | None = None,
        max_download_bytes: int = MAX_BYTES,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store if isinstance(store, JobStore) else JobStore(store)
        self.client = client or LumaClient(
            api_key, base_url=base_url, timeout=timeout, creates_per_minute=creates_per_minute
        )
        self.poll = poll or PollPolicy()
        self.max_active = max_active
        self.allow_http_loopback = (
            self.client.is_loopback if allow_http_loopback is None else allow_http_loopback
        )
        self.max_download_bytes = max_download_bytes
        # Jobs are held while they run (by their task); a finished one only while the caller
        # holds it, so a long session does not keep every Sprite it ever made.
        self._jobs: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()
        self.owner = lease_owner()
        self.lease_seconds = lease_seconds
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._bg_loop: asyncio.AbstractEventLoop | None = None
        self._bg_thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JobManager(store={str(self.store.path)!r}, client={self.client!r})"

    # -- loops ---------------------------------------------------------------------------------
    def _background_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._bg_loop is None:
                loop = asyncio.new_event_loop()
                self._bg_thread = threading.Thread(target=loop.run_forever, name="pixelnb-jobs", daemon=True)
                self._bg_thread.start()
                self._bg_loop = loop
            return self._bg_loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine to its end from synchronous code, in a notebook or a script."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            import nest_asyncio

            nest_asyncio.apply(running)
            return running.run_until_complete(asyncio.wait_for(coro, timeout))
        return asyncio.run_coroutine_threadsafe(coro, self._background_loop()).result(timeout)

    # -- closing -------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Stop following the jobs (their records stay resumable), close the Luma client and
        stop the background loop. ``with JobManager(...) as m:`` does it on exit; in a
        coroutine, use ``await m.aclose()`` or ``async with``."""
        jobs = [j for j in list(self._jobs.values()) if not j.done()]
        for job in jobs:
            job._interrupt()
        loop = self._bg_loop
        self._bg_loop = None
        if loop is not None and not loop.is_closed():
            mine = [j for j in jobs if j._runs_on(loop)]
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(self._drain(mine), loop).result(timeout)
                loop.call_soon_threadsafe(loop.stop)
                if self._bg_thread is not None:
                    self._bg_thread.join(timeout)
            else:  # its thread is gone (a test stopped it): finish the tasks here
                loop.run_until_complete(self._drain(mine))
            loop.close()
        elif self.client._sdk is not None:
            self.client._drop_sdk()

    async def _drain(self, jobs: list[Job]) -> None:
        tasks = [t for t in (j._pending() for j in jobs) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        await self.client.aclose()

    async def aclose(self) -> None:
        """:meth:`close` from a coroutine: jobs on this loop are stopped and awaited."""
        here = asyncio.get_running_loop()
        jobs = [j for j in list(self._jobs.values()) if not j.done()]
        for job in jobs:
            job._interrupt()
        await self._drain([j for j in jobs if j._runs_on(here)])
        if self._bg_loop is not None:
            await asyncio.to_thread(self.close)

    def __enter__(self) -> JobManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> JobManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self.max_active)
        return self._slots[loop]

    # -- submitting ------------------------------------------------------------------------------
    def submit(
        self,
        request: GenerationRequest,
        pixel: PixelOptions | dict[str, Any] | None = None,
        *,
        fresh: bool = False,
    ) -> Job:
        """Record the job and start it in the background; returns at once."""
        request.validate()
        opts = PixelOptions.coerce(pixel, **JOB_DEFAULTS)
        opts.to_json()  # a Grid object cannot be stored: refuse it before paying
        _check_fits(opts, request)
        rec = JobRecord(
            id=uuid.uuid4().hex, request=request.to_json(), request_hash=request.key(), pixel=opts.to_json()
        )
        if not fresh:
            running = self._running(rec.request_hash, opts)
            if running is not None:
                return running  # one payment per intent: a double submit is the same job
            self._reuse(rec)
        if not rec.video_path:
            self.client.require_key()  # no key, no job: say so now, not from the background
        rec.history = [("pending", rec.created_at, "reused" if rec.luma_id else "")]
        self.store.add(rec)
        return self._start(rec)

    def _running(self, request_hash: str, pixel: PixelOptions) -> Job | None:
        """A job of this manager's, still under way, for the same request and options."""
        for job in list(self._jobs.values()):
            if (
                not job.done()
                and job.request.key() == request_hash
                and job.pixel.to_json() == pixel.to_json()
            ):
                return job
        return None

    def _reuse(self, rec: JobRecord) -> None:
        """Point a new record at an earlier generation of the same request, if any."""
        priors = self.store.with_hash(rec.request_hash)
        for prior in priors:
            if prior.video_path and Path(prior.video_path).is_file():
                rec.luma_id, rec.video_url = prior.luma_id, prior.video_url
                rec.video_path, rec.video_sha256 = prior.video_path, prior.video_sha256
                return
        for prior in priors:
            if prior.luma_id and not (prior.state == "failed" and prior.error_type not in _RESUMABLE_ERRORS):
                rec.luma_id = prior.luma_id  # follow (or re-download) it: no second payment
                return

    def _start(self, rec: JobRecord) -> Job:
        job = Job(self, rec)
        self._jobs[rec.id] = job
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._background_loop()
            job._bind(loop)
            loop.call_soon_threadsafe(self._spawn, job, loop)
        else:
            job._bind(loop)
            self._spawn(job, loop)
        return job

    def _spawn(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        job._started(loop.create_task(self._run(job)))

    def resume(self) -> list[Job]:
        """Carry every unfinished job of the store to the end (no new generations)."""
        jobs = []
        for rec in self.store.all():
            resumable = not rec.finished or (
                rec.state == "failed" and rec.error_type in _RESUMABLE_ERRORS and rec.luma_id
            )
            if not resumable:
                continue
            known = self._jobs.get(rec.id)
            if known is not None and not known.done():
                jobs.append(known)
                continue
            if rec.finished:
                self.store.set_state(rec.id, "pending", "resumed", error=None, error_type=None)
                rec = self.store.get(rec.id) or rec
            jobs.append(self._start(rec))
        return jobs

    def job(self, job_id: str) -> Job:
        """The Job of an id (or a unique prefix of one) in the store."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        matches = [r for r in self.store.all() if r.id.startswith(job_id)]
        if len(matches) != 1:
            raise KeyError(f"{job_id!r} matches {len(matches)} jobs")
        return self._jobs.get(matches[0].id) or Job(self, matches[0])

    # -- the state machine ------------------------------------------------------------------------
    def _set(self, job: Job, state: str, detail: str = "", **fields: Any) -> None:
        now = self.store.set_state(job.id, state, detail, **fields)
        job.state = state
        job.history.append((state, now, detail))
        job.progress = Progress(_SPAN[state][0], state)
        job._notify()

    def _progress(self, job: Job, stage: str, frac: float) -> None:
        lo, hi = _SPAN[stage]
        value = lo + (hi - lo) * max(0.0, min(1.0, frac))
        if value - job.progress.fraction >= 0.005 or stage != job.progress.stage:
            job.progress = Progress(value, stage)
            job._notify()

    async def _run(self, job: Job) -> None:
        renew: asyncio.Task[None] | None = None
        outcome: Sprite | PixelnbError
        try:
            if job._cancel_requested:
                raise asyncio.CancelledError
            await self._lead(job)
            renew = asyncio.get_running_loop().create_task(self._renew(job))
            sprite = await self._pipeline(job)
            job.sprite = sprite
            outcome = sprite
            try:
                self._set(job, "completed", f"{len(sprite)} frames")
            except StoreError as err:  # the Sprite is made: give it, and say what was not stored
                log.warning("job %s completed but the store could not record it: %s", job.id[:8], err)
                job.state, job.progress = "completed", Progress(1.0, "completed")
        except asyncio.CancelledError:
            if job._interrupted:  # the manager closed: the record stays as it is, resumable
                outcome = JobCancelled(
                    f"job {job.id[:8]} stopped: its JobManager was closed; resume() carries it on"
                )
                job.error = outcome
            else:
                outcome = JobCancelled(f"job {job.id[:8]} was cancelled")
                self._end(job, "cancelled", outcome, "cancelled by the user")
        except PixelnbError as err:
            if isinstance(err, LumaError):
                err.job_id = err.job_id or job.id
                err.luma_id = err.luma_id or job.luma_id
            log.info("job %s failed: %s", job.id[:8], err)
            outcome = err
            self._end(job, "failed", err, type(err).__name__)
        except Exception as exc:  # a bug: still end the job cleanly, and say it is one
            outcome = InternalError(f"unexpected {exc.__class__.__name__} in job {job.id[:8]}: {exc}")
            log.exception("job %s failed unexpectedly", job.id[:8])
            self._end(job, "failed", outcome, "InternalError")
        # Tidy up before the result is out, so nothing of the job's outlives it unseen.
        if renew is not None:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        with contextlib.suppress(StoreError):  # if it cannot be written, it expires
            self.store.release(job.id, self.owner)
        job._finish(outcome)

    def _end(self, job: Job, state: str, err: PixelnbError, detail: str) -> None:
        """Record how a job ended; if even the store cannot be written, the job still ends
        (the record keeps its last state, so a resume picks it up again)."""
        job.error = err
        try:
            self._set(job, state, detail, error=str(err), error_type=type(err).__name__, **_error_fields(err))
        except StoreError as store_err:
            log.warning("job %s ended %s but the store could not record it: %s", job.id[:8], state, store_err)
            job.state = state
            job.progress = Progress(1.0, state)
            job._notify()

    async def _lead(self, job: Job) -> None:
        """Hold the job's lease before following it. While another live process holds it,
        observe the store instead, until that process ends the job or dies."""
        wait = min(max(self.poll.initial, 0.01), 1.0)
        while not self.store.acquire(job.id, self.owner, self.lease_seconds):
            rec = self.store.get(job.id)
            if rec is None:
                raise InternalError(f"job {job.id[:8]} vanished from the store")
            if rec.state != job.state:
                job.state, job.history, job.luma_id = rec.state, list(rec.history), rec.luma_id
                job.progress = Progress(_SPAN.get(rec.state, (0.0, 0.0))[0], rec.state)
                job._notify()
            if rec.finished:
                if rec.state == "completed" or (rec.video_path and Path(rec.video_path).is_file()):
                    return  # the other process made the video: the pixels are made here
                err = _error_from(rec) or PixelnbError(f"job {job.id[:8]} {rec.state}")
                raise err
            if rec.video_path and Path(rec.video_path).is_file() and rec.state in ("sampling", "pixelating"):
                return
            await asyncio.sleep(wait)
            wait = min(wait * 1.5, 2.0)

    async def _renew(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                if not await asyncio.to_thread(self.store.acquire, job.id, self.owner, self.lease_seconds):
                    log.warning("job %s: another process took its lease", job.id[:8])
            except StoreError as err:
                log.warning("job %s: could not renew its lease: %s", job.id[:8], err)

    async def _pipeline(self, job: Job) -> Sprite:
        rec = self.store.get(job.id)
        if rec is None:
            raise InternalError(f"job {job.id[:8]} vanished from the store")
        video = Path(rec.video_path) if rec.video_path else None
        if video is not None and video.is_file() and rec.video_sha256:
            got = await asyncio.to_thread(file_sha256, video)
            if got != rec.video_sha256:
                # Truncated, overwritten or replaced since it was stored: fetch it again
                # from the same generation (no new create).
                log.warning("job %s: the cached video %s changed; downloading it again", job.id[:8], video)
                self._set(job, "pending", f"the cached video {video.name} changed; downloading it again")
                self.store.update(job.id, video_path=None, video_sha256=None)
                rec.video_path = rec.video_sha256 = None
                video = None
        if video is None or not video.is_file():
            video = await self._generate(job, rec)
        return await self._pixelate(job, video)

    async def _generate(self, job: Job, rec: JobRecord) -> Path:
        self.client.require_key()
        async with self._slot():
            if rec.luma_id:
                gen = await self.client.get(rec.luma_id)
            else:
                # A job that crashed while its create was in flight may have been billed.
                check_first = bool(rec.history) and rec.history[-1][2] == _CREATING
                self._set(job, "pending", _CREATING)
                gen = await self.client.create(
                    job.request, exclude=self.store.luma_ids(), check_first=check_first
                )
                job.luma_id = str(gen["id"])
                self.store.update(job.id, luma_id=job.luma_id)
            gen = await self._follow(job, gen)
        url = str(gen["assets"]["video"])  # _follow made sure there is one
        self._set(job, "downloading", "", video_url=url)
        job.video_url = url
        got = await download(
            url,
            self.store.video_dir,
            name=job.id,
            allow_http_loopback=self.allow_http_loopback,
            max_bytes=self.max_download_bytes,
            progress=lambda n, total: self._progress(job, "downloading", n / total if total else 0.5),
        )
        self.store.update(job.id, video_path=str(got.path), video_sha256=got.sha256)
        job.video_path = got.path
        return got.path

    async def _follow(self, job: Job, gen: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        delays = self.poll.delays()
        dream_start: float | None = None
        while True:
            state = gen.get("state")
            if state in ("queued", "dreaming") and job.state != state:
                self._set(job, state, job.luma_id or "")
            if state == "dreaming":
                dream_start = dream_start or loop.time()
                self._progress(job, "dreaming", (loop.time() - dream_start) / TYPICAL_DREAM_SECONDS * 0.95)
            if state == "completed":
                if not (gen.get("assets") or {}).get("video"):
                    raise GenerationFailed("Luma marked the generation completed but gave no video URL")
                return gen
            if state == "failed":
                reason = gen.get("failure_reason")
                raise failure_error(self.client.redact(str(reason)) if reason else None)
            waited = loop.time() - start
            if waited > self.poll.deadline:
                raise LumaUnavailable(
                    f"the generation is still {state} after {waited / 60:.1f} minutes",
                    hint="Luma has not finished it yet; resume later with pixelnb.resume() "
                    "or `pixelnb jobs resume` (it will not be paid for again)",
                )
            await asyncio.sleep(next(delays))
            assert job.luma_id is not None
            gen = await self.client.get(job.luma_id)

    async def _pixelate(self, job: Job, video: Path) -> Sprite:
        from pixelnb.pixelate import pixelate_with

        loop = asyncio.get_running_loop()
        self._set(job, "sampling", str(video.name))
        entered_pixelating = threading.Event()

        def report(stage: str, frac: float) -> None:  # called from the worker thread
            if stage == "sampling":
                loop.call_soon_threadsafe(self._progress, job, "sampling", frac)
            elif not entered_pixelating.is_set():
                entered_pixelating.set()
                loop.call_soon_threadsafe(self._set, job, "pixelating")

        def frame(arr: Any) -> None:  # from the worker thread too
            for cb in job._frame_sinks():
                loop.call_soon_threadsafe(cb, arr)

        sprite = await asyncio.to_thread(
            pixelate_with,
            video,
            job.pixel,
            progress=report,
            on_frame=frame if job._frame_sinks() else None,
        )
        # Let the queued state change land before the job completes.
        await asyncio.sleep(0)
        if not entered_pixelating.is_set():
            self._set(job, "pixelating")
        return sprite

    async def credits(self) -> float:
        return await self.client.credits()


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
