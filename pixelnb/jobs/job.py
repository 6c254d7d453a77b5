"""The Job: one piece of work on its way to a Sprite, to await or observe."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixelnb.errors import PixelnbError
from pixelnb.jobs.events import SPAN, JobEvent, Progress
from pixelnb.jobs.stored import error_from
from pixelnb.luma import request_from_json
from pixelnb.options import PixelOptions
from pixelnb.sprite import Sprite
from pixelnb.store import TERMINAL, JobRecord

if TYPE_CHECKING:
    from pixelnb.jobs.manager import JobManager

__all__ = ["Job"]

log = logging.getLogger("pixelnb.jobs")


class Job:
    """One prompt on its way to a Sprite. Await it, or call :meth:`result`."""

    def __init__(self, manager: JobManager, rec: JobRecord) -> None:
        self.id = rec.id
        self.request = request_from_json(rec.kind, rec.request)
        self.pixel = PixelOptions.from_json(rec.pixel)
        self.luma_id = rec.luma_id
        self.state = rec.state
        self.history: list[tuple[str, float, str]] = list(rec.history)
        self.error: PixelnbError | None = error_from(rec)
        self.progress = Progress(SPAN.get(rec.state, (0.0, 0.0))[0], rec.state)
        self.video_path: Path | None = Path(rec.video_path) if rec.video_path else None
        self.video_url = rec.video_url
        self.created_at = rec.created_at
        self.sprite: Sprite | None = None
        self._manager = manager  # held, so a manager lives as long as a job of it
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
    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # The saved output names the request, so `pixelnb bundle NOTEBOOK.ipynb` finds it.
        meta = {
            "pixelnb": {"job": {"id": self.id, "kind": self.request.kind, "request_hash": self.request.key()}}
        }
        return {"text/plain": repr(self)}, meta

    @property
    def reused(self) -> bool:
        """True when the job follows an earlier generation of the same request: no new one is paid."""
        return bool(self.history) and self.history[0][2] == "reused"

    @property
    def elapsed(self) -> float:
        """Seconds since the job was submitted (until it ended, once it has)."""
        end = self.history[-1][1] if self.state in TERMINAL and self.history else time.time()
        return end - self.created_at

    def done(self) -> bool:
        return self._done.done()

    def on_change(self, callback: Callable[[Job], None]) -> Callable[[], None]:
        """Call ``callback(job)`` after every change; returns a function that stops it."""
        return self._subscribe(self._callbacks, callback)

    def on_frame(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(frame)`` with each source frame (RGB array) as it is decoded,
        on the job's event loop: a live frame grid fills from it. Returns a function that
        stops it."""
        return self._subscribe(self._frame_listeners, callback)

    def _subscribe(self, listeners: list[Any], callback: Any) -> Callable[[], None]:
        with self._lock:
            listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in listeners:
                    listeners.remove(callback)

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
        """Stop the job; it ends ``cancelled``, and ``job.error`` says what happened at Luma.

        A generation still queued or dreaming is deleted at Luma (the call that stops it);
        one already made stays, and a re-run of the same prompt reuses it.
        """
        self._cancel_requested = True
        self._stop_task()

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
        self._stop_task()

    def _stop_task(self) -> None:
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
