"""The Studio: the one-cell app that generates or converts, follows jobs and exports.

Built from ipywidgets containers around pixelnb's anywidgets (Player, FrameGrid, KeyField,
ActionButton, JobTable, Downloads). Everything runs on the kernel's event loop: jobs report
through ``on_change``/``on_frame``, and the Studio only observes them. The API key comes
from the environment or from the key box, whose value is sent once to the kernel and never
stored in widget state.

Layout, top to bottom: the Generate / Convert / Character tabs (the last in
widgets/character.py, with its own candidates, actions, set and exports); the pixel
options (every tab uses them); the timeline (pending → queued → dreaming → processing →
done) with the current stage's own bar; the source and the pixel art side by side at one
display size, the palette under them; the pixel frames; the exports; the jobs table.
"""

from __future__ import annotations

import asyncio
import functools
import html
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import ipywidgets as w
import numpy as np

from pixelnb.errors import AuthError, JobCancelled, PixelnbError
from pixelnb.jobs import JOB_DEFAULTS, Job, JobManager
from pixelnb.jobs.events import SPAN
from pixelnb.luma import ASPECT_RATIOS, DURATIONS, MODELS, RESOLUTIONS, GenerationRequest
from pixelnb.options import PixelOptions
from pixelnb.palette import PRESETS, Palette
from pixelnb.quantize import DITHERS
from pixelnb.sprite import Sprite
from pixelnb.store import TERMINAL
from pixelnb.widgets._fallback import LIVE_CLASS, FallbackMixin
from pixelnb.widgets.controls import ActionButton, Downloads, JobTable
from pixelnb.widgets.framegrid import FrameGrid
from pixelnb.widgets.keyfield import KeyField
from pixelnb.widgets.player import Player

__all__ = ["Studio"]

DISPLAY = 256  # px: the source and the pixel art are shown this wide, side by side
STEPS = ("pending", "queued", "dreaming", "processing", "done")
_STEP_OF = {
    "pending": 0,
    "queued": 1,
    "dreaming": 2,
    "downloading": 3,
    "sampling": 3,
    "pixelating": 3,
    "completed": 4,
}
ENTER_KEY = "enter your Luma API key in the box above first"
ENTER_KEY_HINT = "paste it into the “Luma API key” box and press Use key; it stays in this kernel only"


def _error_html(err: BaseException) -> str:
    kind = type(err).__name__
    hint = getattr(err, "hint", "")
    message = getattr(err, "message", None) or str(err)
    tip = f"<div><b>What to do:</b> {html.escape(hint)}</div>" if hint else ""
    return (
        '<div class="pixelnb-error" style="border-left:4px solid #c33;padding:4px 8px;background:#fee">'
        f"<b>{html.escape(kind)}</b>: {html.escape(message)}{tip}</div>"
    )


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def timeline_html(state: str, stopped_at: int | None = None) -> str:
    """The flow people know from Luma's web app, with the job's place in it.

    >>> "current" in timeline_html("dreaming").split("dreaming")[0][-40:]
    True
    """
    at = _STEP_OF.get(state, stopped_at if stopped_at is not None else 0)
    cells = []
    for i, step in enumerate(STEPS):
        if state in ("failed", "cancelled") and i == at:
            cls, label = "stopped", state
        elif state == "completed" or i < at:
            cls, label = "passed", step
        elif i == at:
            cls, label = "current", step
        else:
            cls, label = "", step
        cells.append(f'<span class="pixelnb-step {cls}" data-step="{step}">{html.escape(label)}</span>')
    return '<div class="pixelnb-timeline">' + '<span class="pixelnb-arrow">→</span>'.join(cells) + "</div>"


class _Relay:
    """Hands frames from a worker thread to the event loop in batches: one loop callback per
    batch, not one per frame (the decoder and the loop share one GIL and two cores)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[Any], None]) -> None:
        self._loop, self._sink = loop, sink
        self._lock = threading.Lock()
        self._frames: list[Any] = []
        self._posted = False

    def __call__(self, frame: Any) -> None:
        with self._lock:
            self._frames.append(frame)
            if self._posted:
                return
            self._posted = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            frames, self._frames, self._posted = self._frames, [], False
        if frames:
            self._sink(np.stack(frames))


class Studio(FallbackMixin, w.VBox):
    """Prompt → pixel-art animation in one cell; a "Convert a video" tab needs no key.

    ``Studio(manager=None, out_dir="pixelnb-out")``: jobs go to ``manager`` (the default
    store, ``LUMAAI_API_KEY`` and ``LUMAAI_BASE_URL`` when None); exports are written to
    ``out_dir`` and offered for download. A manager has one Studio: a new one (its cell run
    again) closes the one before it, which then follows no job.
    """

    _current: ClassVar[weakref.WeakValueDictionary[int, Studio]] = weakref.WeakValueDictionary()

    def __init__(
        self, manager: JobManager | None = None, out_dir: str | os.PathLike[str] = "pixelnb-out"
    ) -> None:
        from pixelnb.jobs import default_manager

        self.manager = manager or default_manager()
        before = Studio._current.get(id(self.manager))
        if before is not None and before.manager is self.manager:
            before.close()
        Studio._current[id(self.manager)] = self
        self.out_dir = Path(out_dir)
        self.jobs: dict[str, Job] = {}
        self.sprite: Sprite | None = None
        self._selected: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._choice = "path"  # the source the user chose last: "path" or "upload"
        self._uploaded: Path | None = None  # the last upload, saved to a temporary file
        self._clearing_upload = False
        self._shown = 0  # results shown so far
        self._typical = self.manager.typical_dream_seconds()

        # -- generate form
        self.key_field = KeyField(self._set_key)
        if self.manager.client.has_key:
            self.key_field.taken("key set (from LUMAAI_API_KEY or the manager)")
        self.prompt = w.Textarea(
            placeholder="a cute pixel art cat walking in a garden",
            description="prompt",
            layout={"width": "100%"},
        )
        self.prompt.add_class("pixelnb-prompt")
        self.model = w.Dropdown(options=MODELS, value="ray-2", description="model")
        self.aspect = w.Dropdown(options=ASPECT_RATIOS, value="1:1", description="aspect")
        self.duration = w.Dropdown(options=DURATIONS, value="5s", description="duration")
        self.resolution = w.Dropdown(options=RESOLUTIONS, value="540p", description="resolution")
        self.loop = w.Checkbox(value=False, description="loop")
        self.keyframe = w.Text(placeholder="https://… image to start from (optional)", description="keyframe")
        self.generate_button = ActionButton("Generate", primary=True)
        self.cancel_button = w.Button(description="Cancel", icon="stop")
        self.resume_button = w.Button(description="Resume", icon="refresh", tooltip="carry on stopped jobs")
        gen_tab = w.VBox(
            [
                self.key_field,
                self.prompt,
                w.HBox([self.model, self.aspect]),
                w.HBox([self.duration, self.resolution, self.loop]),
                self.keyframe,
                w.HBox([self.generate_button, self.cancel_button, self.resume_button]),
            ]
        )
        # -- convert form
        self.path = w.Text(placeholder="path/to/video.mp4", description="video")
        self.upload = w.FileUpload(
            accept="video/*,.mp4,.mov,.webm,.mkv", multiple=False, description="Upload"
        )
        self.convert_button = ActionButton("Convert", primary=True)
        # Ordinary footage has no pixel grid; looking for one decodes every frame at full size,
        # so by default only a video whose first frame looks like pixel art gets the search.
        self.find_grid = w.Dropdown(
            options=[("if it looks like pixel art", "detect"), ("always", "on"), ("never", "off")],
            value="detect",
            description="find the pixel grid",
            style={"description_width": "initial"},
            layout={"width": "auto"},
        )
        conv_tab = w.VBox([w.HBox([self.path, self.upload]), self.find_grid, self.convert_button])
        from pixelnb.widgets.character import CharacterTab

        self.character = CharacterTab(self.manager, self.out_dir, lambda: self._pixel(), self._need_key)
        self.tabs = w.Tab(children=[gen_tab, conv_tab, self.character])
        self.tabs.set_title(0, "Generate")
        self.tabs.set_title(1, "Convert a video")
        self.tabs.set_title(2, "Character")
        # -- pixel options (shared)
        self.size = w.BoundedIntText(value=64, min=4, max=512, description="size")
        self.colors = w.BoundedIntText(value=16, min=2, max=256, description="colours")
        self.palette = w.Dropdown(options=["auto", *PRESETS], value="auto", description="palette")
        self.swatches = w.HTML()
        self.dither = w.Dropdown(options=DITHERS, value="none", description="dither")
        self.fps = w.BoundedFloatText(value=12, min=1, max=60, description="fps")
        self.palette.observe(lambda _: self._show_swatches(), "value")
        self._show_swatches()
        pixel_box = w.VBox(
            [
                w.HTML("<h4 class='pixelnb-heading'>Pixel options — used by every tab</h4>"),
                w.HBox([self.size, self.colors, self.fps]),
                w.HBox([self.palette, self.dither]),
                self.swatches,
            ]
        )
        # -- progress, result, exports, jobs
        self.error = w.HTML()
        self.timeline = w.HTML()
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="", layout={"width": "100%"})
        self.stage = w.HTML()
        self.source_view = FrameGrid(view="play", display_width=DISPLAY)
        self.player = Player()
        self.result_palette = w.HTML()
        self.done_line = w.HTML()
        self.pixel_grid = FrameGrid(title="pixel frames")
        self.export_gif = w.Button(description="GIF", icon="download")
        self.export_sheet = w.Button(
            description="Sprite sheet + JSON", icon="download", layout={"width": "auto"}
        )
        self.export_zip = w.Button(description="Frames (zip)", icon="download", layout={"width": "auto"})
        self.downloads = Downloads()
        self.job_table = JobTable()
        self._removers: dict[str, list[Callable[[], None]]] = {}
        side_by_side = w.HBox(
            [
                w.VBox([w.HTML("<div class='pixelnb-title'>source</div>"), self.source_view]),
                w.VBox([w.HTML("<div class='pixelnb-title'>pixel art</div>"), self.player]),
            ],
            layout={"align_items": "flex-start"},
        )
        side_by_side.add_class("pixelnb-side")
        super().__init__(
            [
                w.HTML("<h3 class='pixelnb-heading'>pixelnb Studio</h3>"),
                self.tabs,
                pixel_box,
                self.error,
                self.timeline,
                self.progress,
                self.stage,
                side_by_side,
                self.result_palette,
                self.done_line,
                self.pixel_grid,
                w.HBox([self.export_gif, self.export_sheet, self.export_zip]),
                self.downloads,
                w.HTML("<div class='pixelnb-title'>jobs</div>"),
                self.job_table,
            ]
        )
        self.add_class("pixelnb-studio")
        self.add_class(LIVE_CLASS)
        self.generate_button.on_click(self.generate)
        self.cancel_button.on_click(lambda _: self.cancel())
        self.resume_button.on_click(lambda _: self.resume())
        self.convert_button.on_click(self.convert)
        self.export_gif.on_click(lambda _: self.export("gif"))
        self.export_sheet.on_click(lambda _: self.export("png"))
        self.export_zip.on_click(lambda _: self.export("zip"))
        self.job_table.observe(lambda change: self.select(change["new"] or None), "selected")
        self.path.observe(lambda _: self._chose("path"), "value")
        self.upload.observe(lambda _: self._chose("upload"), "value")
        self._load_store()

    # -- helpers --------------------------------------------------------------------------------
    def _set_key(self, key: str) -> None:
        self.manager.client.set_key(key)
        self.error.value = ""
        self._resume_jobs()

    def _need_key(self) -> None:
        """Before a character request: without a key, show the key box and say so."""
        if not self.manager.client.has_key:
            self.tabs.selected_index = 0
            self.key_field.ask()
            raise AuthError(ENTER_KEY, hint=ENTER_KEY_HINT)

    def _chose(self, source: str) -> None:
        if not self._clearing_upload:
            self._choice = source

    def _show_swatches(self) -> None:
        value = self.palette.value
        self.swatches.value = "" if value == "auto" else Palette.preset(value).to_html(14)

    def _pixel(self) -> PixelOptions:
        return PixelOptions.coerce(
            {
                "size": int(self.size.value),
                "colors": int(self.colors.value),
                "palette": self.palette.value,
                "dither": self.dither.value,
                "fps": float(self.fps.value),
            },
            **JOB_DEFAULTS,
        )

    def _stage_text(self, job: Job) -> str:
        """What the job is doing, in more words than its state."""
        stage, state = job.progress.stage, job.state
        if stage.startswith("reconnecting"):
            return f"reconnecting … Luma is unreachable {stage[len('reconnecting') :].strip()}; retrying"
        if state == "pending":
            return "reused — no new generation" if job.reused else "sending the request"
        if state == "queued":
            return "queued at Luma" + (" (reused — no new generation)" if job.reused else "")
        if state == "dreaming":
            return f"dreaming {_clock(self._in_state(job))} of typically ~{_clock(self._typical)}"
        if state in ("downloading", "sampling", "pixelating"):
            local = self._local_fraction(job)
            return f"processing: {state} {local:.0%}" + (
                " · reused — no new generation" if job.reused else ""
            )
        if state == "completed":
            return "done" + (" · reused — no new generation" if job.reused else "")
        if state == "cancelled":
            return "cancelled"
        if state == "failed":
            return f"failed: {type(job.error).__name__ if job.error else 'error'}"
        return state

    def _in_state(self, job: Job) -> float:
        since = next((t for s, t, _ in reversed(job.history) if s == job.state), None)
        return 0.0 if since is None else time.time() - since

    def _local_fraction(self, job: Job) -> float:
        """The current stage's own progress (0-1): the bar restarts with each stage."""
        if job.state == "completed":
            return 1.0
        if job.state == "dreaming":
            return min(0.95, self._in_state(job) / self._typical)
        stage = job.progress.stage if job.progress.stage in SPAN else job.state
        if stage in ("downloading", "sampling", "pixelating"):
            lo, hi = SPAN["downloading"][0], SPAN["pixelating"][1]  # processing, as one step
            return max(0.0, min(1.0, (job.progress.fraction - lo) / (hi - lo)))
        return 0.0

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": job.id,
                "prompt": job.request.prompt or "(image keyframe)",
                "state": job.state,
                "stage": self._stage_text(job),
                "progress": f"{job.progress.fraction:.0%}",
                "elapsed": _clock(job.elapsed),
                "luma_id": job.luma_id or "",
            }
            for job in reversed(list(self.jobs.values()))
        ]

    def _refresh_table(self) -> None:
        self.job_table.rows = self._rows()

    def _track(self, job: Job) -> None:
        if job.id in self._removers:
            return
        self.jobs[job.id] = job
        self._removers[job.id] = [
            job.on_change(self._on_change),
            job.on_frame(functools.partial(self._on_frame, job)),
        ]

    def _untrack(self, job_id: str) -> None:
        for remove in self._removers.pop(job_id, []):
            remove()

    def close(self) -> None:
        """Close the Studio and stop following its jobs (they keep running)."""
        for job_id in list(self._removers):
            self._untrack(job_id)
        super().close()

    def _load_store(self) -> None:
        for rec in self.manager.store.all()[-20:]:
            self.jobs[rec.id] = self.manager.job(rec.id)
        self._resume_jobs()
        # A re-run of the notebook shows the job it was on: the newest unfinished, else the newest.
        current = [j for j in self.jobs.values() if j.state not in TERMINAL] or list(self.jobs.values())
        self._refresh_table()
        if current:
            self.job_table.selected = current[-1].id

    def _resume_jobs(self) -> list[Job]:
        """Re-running the notebook re-attaches to unfinished jobs instead of starting new ones."""
        if not self.manager.client.has_key:
            return []
        jobs = self.manager.resume()
        for job in jobs:
            self._track(job)
        self._refresh_table()
        return jobs

    # -- events ---------------------------------------------------------------------------------
    def _on_change(self, job: Job) -> None:
        self._refresh_table()
        if job.state in TERMINAL:
            self._untrack(job.id)  # a finished job changes no more
        if job.state == "failed" and isinstance(job.error, AuthError):
            self.key_field.ask("Luma refused that key: enter a valid one")
        if job.id != self._selected:
            return
        self._show_progress(job)
        if job.state == "completed" and job.sprite is not None:
            self._show_result(job.sprite)
        elif job.state == "failed" and job.error is not None:
            self.error.value = _error_html(job.error)

    def _on_frame(self, job: Job, frame: Any) -> None:
        if job.id == self._selected:
            self.source_view.append(frame)

    def _show_progress(self, job: Job) -> None:
        stopped = None
        if job.state in ("failed", "cancelled"):
            stopped = max((_STEP_OF.get(s, 0) for s, _, _ in job.history), default=0)
        self.timeline.value = timeline_html(job.state, stopped)
        self.progress.value = (
            self._local_fraction(job) if job.state not in ("failed", "cancelled") else self.progress.value
        )
        self.progress.bar_style = {"failed": "danger", "cancelled": "warning", "completed": "success"}.get(
            job.state, ""
        )
        text = self._stage_text(job)
        if job.state == "cancelled" and isinstance(job.error, JobCancelled):
            text = html.escape(str(job.error))
        else:
            text = html.escape(text)
        self.stage.value = f"<code>{job.id[:8]}</code> · {text} · {_clock(job.elapsed)}" + (
            f" · Luma <code>{html.escape(job.luma_id)}</code>" if job.luma_id else ""
        )

    def _clear_result(self) -> None:
        self.sprite = None
        self.player.clear()
        self.source_view.clear()
        self.pixel_grid.clear()
        self.result_palette.value = self.done_line.value = ""
        self.downloads.clear()

    def _show_result(self, sprite: Sprite, note: str = "") -> None:
        self.sprite = sprite
        self.player.sprite = sprite
        self.player.zoom = max(1, min(16, DISPLAY // max(sprite.width, sprite.height)))
        self.source_view.display_width = sprite.width * self.player.zoom
        self.source_view.fps = self.player.fps
        self.source_view.finish()
        self.pixel_grid.set(sprite)
        self.result_palette.value = sprite.palette.to_html(16)
        extra = sprite.info.get("fps_note") or note
        self._shown += 1  # tells one result from the next (a browser waiting for a new one)
        self.done_line.value = (
            f"<b class='pixelnb-complete' data-result='{self._shown}'>"
            f"Complete! {len(sprite)} pixel-art frames</b>"
            f" · {sprite.width}×{sprite.height} · {len(sprite.palette)} colours · {sprite.fps:g} fps"
            + (f"<div>{html.escape(str(extra))}</div>" if extra else "")
        )
        self._refresh_fallback()

    def select(self, job_id: str | None) -> None:
        """Show a job: its timeline, progress, source and pixel art."""
        self._selected = job_id
        job = self.jobs.get(job_id or "")
        if job is None:
            return
        if self.job_table.selected != job.id:
            self.job_table.selected = job.id
        self.error.value = _error_html(job.error) if job.error and job.state == "failed" else ""
        self._clear_result()
        self._show_progress(job)
        if job.sprite is not None:
            self._show_result(job.sprite)
        elif job.state == "completed" and job.video_path is not None and Path(job.video_path).is_file():
            self._show_finished(job)

    def _show_finished(self, job: Job) -> None:
        """A job that finished before this kernel: its pixels are made again from the cached
        video, in the background (no generation, no download)."""
        from pixelnb.pipeline import pixelate_with

        video = Path(job.video_path) if job.video_path else None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if video is None:
            return
        self.stage.value = f"<code>{job.id[:8]}</code> · done · making its pixels again from the cached video"

        def frame(arr: Any) -> None:
            loop.call_soon_threadsafe(self._on_frame, job, arr)

        async def run() -> None:
            try:
                sprite = await asyncio.to_thread(pixelate_with, video, job.pixel, on_frame=frame)
            except PixelnbError as err:
                if job.id == self._selected:
                    self.error.value = _error_html(err)
                return
            job.sprite = sprite
            if job.id == self._selected:
                self._show_progress(job)
                self._show_result(sprite)

        self._task = loop.create_task(run())

    # -- actions --------------------------------------------------------------------------------
    def generate(self) -> Job | None:
        """Submit the form (the Generate button). The button is disabled in the browser from
        the click until this returns, and the new job is selected."""
        self.error.value = ""
        try:
            request = GenerationRequest.build(
                self.prompt.value or None,
                model=self.model.value,
                aspect_ratio=self.aspect.value,
                duration=self.duration.value,
                resolution=self.resolution.value,
                loop=self.loop.value,
                keyframes=self.keyframe.value.strip() or None,
            )
            pixel = self._pixel()
            if not self.manager.client.has_key:
                self.key_field.ask()
                raise AuthError(ENTER_KEY, hint=ENTER_KEY_HINT)
            job = self.manager.submit(request, pixel)
        except (PixelnbError, ValueError) as err:
            self.error.value = _error_html(err)
            return None
        self._track(job)
        self._refresh_table()
        self.select(job.id)
        return job

    def cancel(self) -> None:
        """Cancel the shown job; its stage line then says what happened at Luma."""
        job = self.jobs.get(self._selected or "")
        if job is not None and not job.done():
            job.cancel()

    def resume(self) -> list[Job]:
        """Carry on every stopped job of the store (the Resume button); no new generation."""
        if not self.manager.client.has_key:
            self.key_field.ask()
            self.error.value = _error_html(AuthError(ENTER_KEY, hint=ENTER_KEY_HINT))
            return []
        jobs = self._resume_jobs()
        if jobs and self._selected not in {j.id for j in jobs}:
            self.select(jobs[-1].id)
        return jobs

    def _video_path(self) -> Path | None:
        if self._choice == "upload" and self.upload.value:
            item = (
                self.upload.value[0]
                if isinstance(self.upload.value, (list, tuple))
                else next(iter(self.upload.value.values()))
            )
            name = Path(str(item.get("name", "upload.mp4"))).name
            target = Path(tempfile.mkdtemp(prefix="pixelnb-upload-")) / name
            target.write_bytes(bytes(item["content"]))
            self._uploaded = target
            # The upload's bytes are widget state: keep them out of a saved notebook.
            self._clearing_upload = True
            try:
                self.upload.value = ()
            finally:
                self._clearing_upload = False
            return target
        if self._choice == "upload" and self._uploaded is not None:
            return self._uploaded
        text = self.path.value.strip()
        return Path(text).expanduser() if text else None

    def convert(self) -> None:
        """Convert the chosen file or upload (the Convert button); no key needed. The source
        chosen last wins; the result before it is cleared."""
        from pixelnb.pipeline import pixelate_with

        self.error.value = ""
        path = self._video_path()
        if path is None:
            self.error.value = _error_html(PixelnbError("choose a video: type its path or upload one"))
            return
        try:
            opts = self._pixel().replace(grid="auto" if self.find_grid.value == "on" else "off")
        except PixelnbError as err:
            self.error.value = _error_html(err)
            return
        detect = self.find_grid.value == "detect"
        self._selected = None
        self.job_table.selected = ""
        self._clear_result()
        self.timeline.value = ""
        self.progress.bar_style = ""
        self.progress.value = 0.0
        t0 = time.monotonic()
        name = html.escape(path.name)

        shown: dict[str, float] = {}

        def worth_saying(stage: str, frac: float) -> bool:
            # A report per frame would be a state message per frame: say each whole 5 %.
            if stage in shown and frac - shown[stage] < 0.05:
                return False
            shown[stage] = frac
            return True

        def report(stage: str, frac: float) -> None:
            self.progress.value = frac if stage == "sampling" else 1.0
            self.stage.value = f"converting <code>{name}</code>: {html.escape(stage)} {frac:.0%}"

        def say(stage: str, frac: float) -> None:
            if worth_saying(stage, frac):
                report(stage, frac)

        def choose(opts: PixelOptions) -> PixelOptions:
            """The grid search, when the video looks like pixel art (a cheap first look)."""
            from pixelnb.grid import looks_pixelated

            return opts.replace(grid="auto") if detect and looks_pixelated(path) else opts

        def done(sprite: Sprite) -> None:
            gridded = sprite.info.get("downscale") == "grid"
            self.stage.value = f"converted <code>{name}</code> in {time.monotonic() - t0:.1f} s" + (
                " · it looks like pixel art: one colour per grid cell" if gridded else ""
            )
            self.progress.value = 1.0
            self.progress.bar_style = "success"
            self._show_result(sprite)

        def failed(err: BaseException) -> None:
            self.source_view.flush()
            self.progress.bar_style = "danger"
            self.error.value = _error_html(err)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                done(pixelate_with(path, choose(opts), progress=say, on_frame=self.source_view.append))
            except PixelnbError as err:
                failed(err)
            return

        def progress(stage: str, frac: float) -> None:  # in the worker thread
            if worth_saying(stage, frac):
                loop.call_soon_threadsafe(report, stage, frac)

        async def run() -> None:
            try:
                relay = _Relay(loop, self.source_view.append)
                sprite = await asyncio.to_thread(
                    lambda: pixelate_with(path, choose(opts), progress=progress, on_frame=relay)
                )
            except PixelnbError as err:
                failed(err)
            else:
                done(sprite)

        self._task = loop.create_task(run())

    def export(self, kind: str) -> Path | None:
        """Save the shown Sprite (``gif``, ``png`` sheet + JSON, or ``zip`` of frames) and
        offer it for download."""
        if self.sprite is None:
            self.error.value = _error_html(PixelnbError("nothing to export yet: generate or convert first"))
            return None
        stem = f"pixelnb-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if kind == "gif":
                files = [self.sprite.save(self.out_dir / f"{stem}.gif", scale=4)]
            elif kind == "png":
                sheet = self.sprite.save(self.out_dir / f"{stem}.png")
                files = [sheet, sheet.with_suffix(".json")]
            else:
                files = [self.sprite.save(self.out_dir / f"{stem}.zip")]
        except (PixelnbError, OSError) as err:
            self.error.value = _error_html(err)
            return None
        self.downloads.offer(files)
        return files[0]
