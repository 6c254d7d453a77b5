"""The JobManager: submits, follows, stores and resumes jobs, paying at most once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
import weakref
from collections.abc import Coroutine
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
    OfflineError,
    PixelnbError,
    StoreError,
)
from pixelnb.jobs.events import SPAN, Progress
from pixelnb.jobs.job import Job
from pixelnb.jobs.stored import error_fields, error_from
from pixelnb.luma import GenerationRequest, LumaClient, PollPolicy, failure_error, request_from_json
from pixelnb.options import PixelOptions
from pixelnb.replay import active_bundle, is_offline
from pixelnb.sprite import Sprite
from pixelnb.store import LEASE_SECONDS, JobRecord, JobStore, lease_owner

__all__ = ["JOB_DEFAULTS", "JobManager", "generation_record"]

log = logging.getLogger("pixelnb.jobs")
T = TypeVar("T")

# Luma publishes no render times; third parties report 15-60 s for Ray 2 (luma-api.md).
# Until this store has seen a dream of its own, the dreaming bar is measured against this.
TYPICAL_DREAM_SECONDS = 60.0
# Failures that resuming can carry on from without paying again.
_RESUMABLE_ERRORS = ("LumaUnavailable", "DownloadError", "DiskFull", "StoreError")
_CREATING = "sending create"
_DELETED = "deleted at Luma"  # the detail of a cancel that deleted its generation
REUSED = "reused"  # the detail of a job's first state when it follows an earlier generation
# A job's pixel options default to a game sprite's rate, and look for the grid Luma's
# "pixel art" only imitates.
JOB_DEFAULTS: dict[str, Any] = {"fps": 12.0, "grid": "auto"}


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


def generation_record(request: GenerationRequest, rec: JobRecord) -> dict[str, Any]:
    """What a Sprite's provenance says of the generation it came from: the same for a
    fresh generation and for its video found again in the cache or a bundle."""
    return {
        "id": rec.luma_id,
        "kind": rec.kind,
        "model": request.model,
        "prompt": request.prompt,
        "request": request.to_api(),
        "request_hash": rec.request_hash,
        "echo": json.loads(rec.echo) if rec.echo else None,
        "video_sha256": rec.video_sha256,
    }


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
        max_active_images: int = 40,
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
        self.max_active_images = max_active_images  # Photon allows 40 at once, Ray 10
        self.allow_http_loopback = (
            self.client.is_loopback if allow_http_loopback is None else allow_http_loopback
        )
        self.max_download_bytes = max_download_bytes
        # Jobs are held while they run (by their task); a finished one only while the caller
        # holds it, so a long session does not keep every Sprite it ever made.
        self._jobs: weakref.WeakValueDictionary[str, Job] = weakref.WeakValueDictionary()
        self.owner = lease_owner()
        self.lease_seconds = lease_seconds
        self._slots: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Semaphore] = {}
        self._bg_loop: asyncio.AbstractEventLoop | None = None
        self._bg_thread: threading.Thread | None = None
        self._submit_lock = threading.RLock()
        self.submitted: list[str] = []  # ids of the jobs submitted here, in order (for bundle())
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
        jobs = self._interrupt_all()
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

    def _interrupt_all(self) -> list[Job]:
        """Stop following every running job (records stay resumable); returns them."""
        jobs = [j for j in list(self._jobs.values()) if not j.done()]
        for job in jobs:
            job._interrupt()
        return jobs

    async def _drain(self, jobs: list[Job]) -> None:
        tasks = [t for t in (j._pending() for j in jobs) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        await self.client.aclose()

    async def aclose(self) -> None:
        """:meth:`close` from a coroutine: jobs on this loop are stopped and awaited."""
        here = asyncio.get_running_loop()
        jobs = self._interrupt_all()
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

    def _slot(self, kind: str = "video") -> asyncio.Semaphore:
        key = (asyncio.get_running_loop(), kind)
        if key not in self._slots:
            most = self.max_active_images if kind == "image" else self.max_active
            self._slots[key] = asyncio.Semaphore(most)
        return self._slots[key]

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
            id=uuid.uuid4().hex,
            request=request.to_json(),
            request_hash=request.key(),
            pixel=opts.to_json(),
            kind=request.kind,
        )
        # Two submits can race (ipykernel 7 may handle two clicks' messages at once): the
        # check for a running twin and the registration of the new job happen as one step.
        with self._submit_lock:
            if not fresh:
                running = self._running(rec.request_hash, opts)
                if running is not None:
                    return running  # one payment per intent: a double submit is the same job
                self._reuse(rec)
            if not rec.video_path:
                self._replay(rec, fresh)
            if not rec.video_path:
                self.client.require_key()  # no key, no job: say so now, not from the background
            rec.history = [("pending", rec.created_at, REUSED if rec.luma_id else "")]
            self.store.add(rec)
            self.submitted.append(rec.id)
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
                rec.echo = prior.echo
                return
        for prior in priors:
            deleted = (
                prior.state == "cancelled"
                and bool(prior.history)
                and prior.history[-1][2].startswith(_DELETED)
            )
            if deleted:
                continue  # that generation is gone from Luma
            if prior.luma_id and not (prior.state == "failed" and prior.error_type not in _RESUMABLE_ERRORS):
                rec.luma_id = prior.luma_id  # follow (or re-download) it: no second payment
                return

    def _replay(self, rec: JobRecord, fresh: bool) -> None:
        """Take the video of a request from the replay bundle in use; refuse a request that
        would reach Luma when offline, or that a strict bundle does not hold."""
        request = request_from_json(rec.kind, rec.request)
        bundle = active_bundle()
        entry = bundle.find(rec.kind, rec.request_hash) if bundle is not None and not fresh else None
        if bundle is not None and entry is not None:
            path = bundle.extract(entry, self.store.video_dir)
            rec.luma_id, rec.video_url = entry.get("luma_id"), entry.get("url")
            rec.video_path, rec.video_sha256 = str(path), entry["sha256"]
            rec.echo = json.dumps(entry["echo"], sort_keys=True) if entry.get("echo") else None
            return
        if bundle is not None and bundle.strict:
            raise bundle.miss(rec.kind, rec.request_hash, request.prompt)
        if is_offline():
            what = "a fresh take of" if fresh else ("following" if rec.luma_id else "creating")
            raise OfflineError(
                f"PIXELNB_OFFLINE is set, so {what} the generation {request.prompt!r} "
                f"({request.model}) would reach Luma and is refused; unset it to run with a key",
                prompt=request.prompt,
                request_hash=rec.request_hash,
            )

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
        # A job that stopped keeps the bar where it stopped: never a full bar for a failure.
        fraction = job.progress.fraction if state in ("failed", "cancelled") else SPAN[state][0]
        job.progress = Progress(fraction, state)
        job._notify()

    def _progress(self, job: Job, stage: str, frac: float) -> None:
        lo, hi = SPAN[stage]
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
                detail, what = await self._withdraw(job)
                outcome = JobCancelled(f"job {job.id[:8]} was cancelled: {what}")
                self._end(job, "cancelled", outcome, detail)
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
            self._set(job, state, detail, error=str(err), error_type=type(err).__name__, **error_fields(err))
        except StoreError as store_err:
            log.warning("job %s ended %s but the store could not record it: %s", job.id[:8], state, store_err)
            job.state = state
            job._notify()

    async def _withdraw(self, job: Job) -> tuple[str, str]:
        """After a cancel: delete the generation at Luma while it is still being made (the
        only call that stops it), and say what happened and what may still happen."""
        stage = job.state
        if not job.luma_id:
            if job.history and job.history[-1][2] == _CREATING:
                return "cancelled during create", (
                    "it was cancelled while its create was on the way; if Luma received it, the "
                    "generation is listed there and a re-run finds it before paying again"
                )
            return "cancelled before create", "no generation was created; nothing was paid"
        if stage not in ("pending", "queued", "dreaming"):
            return "cancelled after the video was made", (
                f"the video of generation {job.luma_id} was already made (and paid); a re-run "
                "with the same prompt reuses it"
            )
        try:
            await asyncio.wait_for(self.client.delete(job.luma_id), timeout=15)
        except (PixelnbError, TimeoutError) as err:
            return "cancelled; delete failed", (
                f"Luma could not be asked to delete generation {job.luma_id} "
                f"({self.client.redact(str(err))}); Luma may still finish it"
            )
        return f"{_DELETED} ({job.luma_id})", (
            f"generation {job.luma_id} was {stage} and is deleted at Luma, which stops it; "
            "Luma does not say whether a deleted generation is billed"
        )

    def typical_dream_seconds(self) -> float:
        """The median time this store's finished generations spent dreaming (Luma
        publishes none); TYPICAL_DREAM_SECONDS before the first."""
        spans = []
        for rec in self.store.all()[-50:]:
            for (state, t, _), (_, t_next, _) in zip(rec.history, rec.history[1:], strict=False):
                if state == "dreaming" and rec.state == "completed":
                    spans.append(t_next - t)
        if not spans:
            return TYPICAL_DREAM_SECONDS
        spans.sort()
        return max(1.0, spans[len(spans) // 2])

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
                job.progress = Progress(SPAN.get(rec.state, (0.0, 0.0))[0], rec.state)
                job._notify()
            if rec.finished:
                if rec.state == "completed" or (rec.video_path and Path(rec.video_path).is_file()):
                    return  # the other process made the video: the pixels are made here
                err = error_from(rec) or PixelnbError(f"job {job.id[:8]} {rec.state}")
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
        sprite = await self._pixelate(job, video)
        rec = self.store.get(job.id) or rec
        sprite.info["provenance"]["generation"] = generation_record(job.request, rec)
        return sprite

    async def _generate(self, job: Job, rec: JobRecord) -> Path:
        if is_offline():  # a resumed job, or a cached video that went missing
            raise OfflineError(
                f"PIXELNB_OFFLINE is set, so job {job.id[:8]} ({job.request.prompt!r}) cannot reach "
                "Luma to fetch its video; unset it to carry on",
                prompt=job.request.prompt,
                request_hash=rec.request_hash,
            )
        self.client.require_key()
        async with self._slot(job.request.kind):
            if rec.luma_id:
                gen = await self._get_patiently(job, asyncio.get_running_loop().time())
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
        url = str(gen["assets"][job.request.asset])  # _follow made sure there is one
        echo = gen.get("request")
        if isinstance(echo, dict):  # for provenance; redacted, as a server may echo anything
            rec.echo = self.client.redact(json.dumps(echo, sort_keys=True, default=str))
            self.store.update(job.id, echo=rec.echo)
        self._set(job, "downloading", "", video_url=url)
        job.video_url = url
        got = await download(
            url,
            self.store.video_dir,
            name=job.id,
            allow_http_loopback=self.allow_http_loopback,
            max_bytes=self.max_download_bytes,
            progress=lambda n, total: self._progress(job, "downloading", n / total if total else 0.5),
            image=job.request.asset == "image",
        )
        self.store.update(job.id, video_path=str(got.path), video_sha256=got.sha256)
        job.video_path = got.path
        return got.path

    async def _follow(self, job: Job, gen: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        delays = self.poll.delays()
        dream_start: float | None = None
        typical = self.typical_dream_seconds()
        while True:
            state = gen.get("state")
            if state in ("queued", "dreaming") and job.state != state:
                self._set(job, state, job.luma_id or "")
            if state == "dreaming":
                dream_start = dream_start or loop.time()
                self._progress(job, "dreaming", min(0.95, (loop.time() - dream_start) / typical))
            if state == "completed":
                if not (gen.get("assets") or {}).get(job.request.asset):
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
            gen = await self._get_patiently(job, start)

    async def _get_patiently(self, job: Job, start: float) -> dict[str, Any]:
        """Read the generation, riding out an unreachable Luma until the poll deadline: the
        job says "reconnecting" from the first failed read and carries on by itself when
        Luma answers again."""
        assert job.luma_id is not None
        loop = asyncio.get_running_loop()
        backoff = self.poll.delays()

        def reconnecting(err: LumaError, wait: float) -> None:
            if not job.progress.stage.startswith("reconnecting"):
                log.info("job %s: Luma unreachable (%s); reconnecting", job.id[:8], err.message)
            job.progress = Progress(job.progress.fraction, f"reconnecting ({err.message})")
            job._notify()

        while True:
            try:
                gen = await self.client.get(job.luma_id, on_retry=reconnecting)
            except LumaUnavailable as err:
                if loop.time() - start > self.poll.deadline:
                    raise
                reconnecting(err, 0.0)
                await asyncio.sleep(next(backoff))
                continue
            if job.progress.stage.startswith("reconnecting"):
                job.progress = Progress(job.progress.fraction, job.state)
                job._notify()
            return gen

    async def _pixelate(self, job: Job, video: Path) -> Sprite:
        from pixelnb.pipeline import pixelate_with

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
