"""The Studio: the one-cell app that generates or converts, follows jobs and exports.

Built from ipywidgets controls around the anywidget Player and FrameGrids. Everything
runs on the kernel's event loop: jobs report through ``on_change``/``on_frame``, and the
Studio only observes them. The API key comes from the environment or from a password
field whose value is sent once to the kernel and never stored in widget state.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import html
import io
import os
import tempfile
import time
import weakref
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import ipywidgets as w

from pixelnb.errors import PixelnbError
from pixelnb.jobs import JOB_DEFAULTS, Job, JobManager
from pixelnb.luma import ASPECT_RATIOS, DURATIONS, MODELS, RESOLUTIONS, GenerationRequest
from pixelnb.options import PixelOptions
from pixelnb.palette import PRESETS, Palette
from pixelnb.quantize import DITHERS
from pixelnb.sprite import Sprite
from pixelnb.store import TERMINAL
from pixelnb.widgets._fallback import FallbackMixin
from pixelnb.widgets.framegrid import FrameGrid
from pixelnb.widgets.keyfield import KeyField
from pixelnb.widgets.player import Player

__all__ = ["Studio"]


def _error_html(err: BaseException) -> str:
    kind = type(err).__name__
    hint = getattr(err, "hint", "")
    message = getattr(err, "message", None) or str(err)
    tip = f"<div><b>What to do:</b> {html.escape(hint)}</div>" if hint else ""
    return (
        '<div class="pixelnb-error" style="border-left:4px solid #c33;padding:4px 8px;background:#fee">'
        f"<b>{html.escape(kind)}</b>: {html.escape(message)}{tip}</div>"
    )


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

        # -- generate form
        self.prompt = w.Textarea(
            placeholder="a cute pixel art cat walking in a garden", layout={"width": "100%"}
        )
        self.model = w.Dropdown(options=MODELS, value="ray-2", description="model")
        self.aspect = w.Dropdown(options=ASPECT_RATIOS, value="1:1", description="aspect")
        self.duration = w.Dropdown(options=DURATIONS, value="5s", description="duration")
        self.resolution = w.Dropdown(options=RESOLUTIONS, value="540p", description="resolution")
        self.loop = w.Checkbox(value=False, description="loop")
        self.keyframe = w.Text(placeholder="https://… image to start from (optional)", description="keyframe")
        self.generate_button = w.Button(description="Generate", button_style="primary", icon="play")
        self.cancel_button = w.Button(description="Cancel", icon="stop")
        self.key_field = KeyField(self._set_key)
        self.key_field.layout.display = "none" if self.manager.client.has_key else ""
        gen_tab = w.VBox(
            [
                self.key_field,
                self.prompt,
                w.HBox([self.model, self.aspect]),
                w.HBox([self.duration, self.resolution, self.loop]),
                self.keyframe,
                w.HBox([self.generate_button, self.cancel_button]),
            ]
        )
        # -- convert form
        self.path = w.Text(placeholder="path/to/video.mp4", description="video")
        self.upload = w.FileUpload(
            accept="video/*,.mp4,.mov,.webm,.mkv", multiple=False, description="Upload"
        )
        self.convert_button = w.Button(description="Convert", button_style="primary", icon="play")
        # Ordinary footage has no pixel grid; looking for one decodes every frame at full size.
        self.find_grid = w.Checkbox(value=False, description="find the pixel grid (AI pixel-art video)")
        conv_tab = w.VBox([w.HBox([self.path, self.upload]), self.find_grid, self.convert_button])
        self.tabs = w.Tab(children=[gen_tab, conv_tab])
        self.tabs.set_title(0, "Generate")
        self.tabs.set_title(1, "Convert a video")
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
            [w.HBox([self.size, self.colors, self.fps]), w.HBox([self.palette, self.dither]), self.swatches]
        )
        # -- jobs and results
        self.error = w.HTML()
        self.job_list = w.Select(options=[], rows=5, description="jobs", layout={"width": "100%"})
        self.job_table = w.HTML()
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="", layout={"width": "100%"})
        self.stage = w.HTML()
        self.player = Player()
        self.pixel_grid = FrameGrid(title="pixel frames")
        self.source_grid = FrameGrid(title="source frames")
        self.export_gif = w.Button(description="GIF", icon="download")
        self.export_sheet = w.Button(description="Sprite sheet + JSON", icon="download")
        self.export_zip = w.Button(description="Frames (zip)", icon="download")
        self.links = w.HTML()
        self._removers: dict[str, list[Callable[[], None]]] = {}
        super().__init__(
            [
                w.HTML("<h3 style='margin:4px 0'>pixelnb Studio</h3>"),
                self.tabs,
                pixel_box,
                self.error,
                self.job_list,
                self.job_table,
                self.progress,
                self.stage,
                w.HBox([self.source_grid, self.pixel_grid]),
                self.player,
                w.HBox([self.export_gif, self.export_sheet, self.export_zip]),
                self.links,
            ]
        )
        self.add_class("pixelnb-studio")
        self.generate_button.on_click(lambda _: self.generate())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.convert_button.on_click(lambda _: self.convert())
        self.export_gif.on_click(lambda _: self.export("gif"))
        self.export_sheet.on_click(lambda _: self.export("png"))
        self.export_zip.on_click(lambda _: self.export("zip"))
        self.job_list.observe(lambda change: self.select(change["new"]), "value")
        self._load_store()

    # -- helpers --------------------------------------------------------------------------------
    def _set_key(self, key: str) -> None:
        self.manager.client.set_key(key)
        self.key_field.layout.display = "none"
        self._resume()

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

    def _label(self, job: Job) -> str:
        prompt = job.request.prompt or "(image)"
        return f"{job.id[:8]} · {job.state} · {prompt[:40]}"

    def _refresh_table(self) -> None:
        rows = []
        for job in self.jobs.values():
            rows.append(
                f"<tr><td><code>{job.id[:8]}</code></td><td>{html.escape(job.state)}</td>"
                f"<td>{html.escape(job.progress.stage)}</td><td>{job.progress.fraction:.0%}</td>"
                f"<td>{job.elapsed:.0f}s</td><td><code>{html.escape(job.luma_id or '')}</code></td></tr>"
            )
        self.job_table.value = (
            "<table class='pixelnb-jobs'><tr><th>id</th><th>state</th><th>stage</th><th>progress</th>"
            "<th>elapsed</th><th>Luma id</th></tr>" + "".join(reversed(rows)) + "</table>"
        )
        options = [(self._label(j), j.id) for j in reversed(list(self.jobs.values()))]
        if [o[1] for o in options] != [o[1] for o in self.job_list.options] or any(
            a[0] != b[0] for a, b in zip(options, self.job_list.options, strict=False)
        ):
            selected = self._selected
            self.job_list.options = options
            if selected in self.jobs:
                self.job_list.value = selected

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
        self._refresh_table()
        self._resume()

    def _resume(self) -> None:
        """Re-running the notebook re-attaches to unfinished jobs instead of starting new ones."""
        if not self.manager.client.has_key:
            return
        for job in self.manager.resume():
            self._track(job)
        self._refresh_table()

    # -- events ---------------------------------------------------------------------------------
    def _on_change(self, job: Job) -> None:
        self._refresh_table()
        if job.state in TERMINAL:
            self._untrack(job.id)  # a finished job changes no more
        if job.id != self._selected:
            return
        self._show_progress(job)
        if job.state == "completed" and job.sprite is not None:
            self._show_result(job.sprite, job.video_path)
        elif job.state == "failed" and job.error is not None:
            self.error.value = _error_html(job.error)

    def _on_frame(self, job: Job, frame: Any) -> None:
        if job.id == self._selected:
            self.source_grid.append(frame)

    def _show_progress(self, job: Job) -> None:
        self.progress.value = job.progress.fraction
        self.stage.value = (
            f"<code>{job.id[:8]}</code> <b>{html.escape(job.state)}</b> · {html.escape(str(job.progress))} · "
            f"{job.elapsed:.0f}s" + (f" · Luma {html.escape(job.luma_id)}" if job.luma_id else "")
        )

    def _show_result(self, sprite: Sprite, video: Path | None) -> None:
        self.sprite = sprite
        self.player.sprite = sprite
        self.pixel_grid.set(sprite)
        self.source_grid.finish()
        if video is not None and Path(video).is_file() and self.source_grid.n_frames != len(sprite):
            from pixelnb.video import sample

            with contextlib.suppress(PixelnbError):  # the grid of the result still shows
                self.source_grid.set(sample(video, fps=sprite.fps, size=(sprite.width, sprite.height)))
        self._refresh_fallback()

    def select(self, job_id: str | None) -> None:
        """Show a job: its live progress, frames, player and source frames."""
        self._selected = job_id
        job = self.jobs.get(job_id or "")
        if job is None:
            return
        self.error.value = _error_html(job.error) if job.error else ""
        self.source_grid.clear()
        self.pixel_grid.clear()
        self._show_progress(job)
        if job.sprite is not None:
            self._show_result(job.sprite, job.video_path)

    # -- actions --------------------------------------------------------------------------------
    def generate(self) -> Job | None:
        """Submit the form (the Generate button).

        A double click pays once: the manager gives a second submit of the same request
        and options the job already under way, even when ipykernel handles both clicks'
        messages at once (disabling the button here could not help: the front end sees
        the change only after this handler returns).
        """
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
            job = self.manager.submit(request, self._pixel())
        except (PixelnbError, ValueError) as err:
            self.error.value = _error_html(err)
            return None
        self._track(job)
        self._selected = job.id
        self._refresh_table()
        self.job_list.value = job.id
        return job

    def cancel(self) -> None:
        job = self.jobs.get(self._selected or "")
        if job is not None and not job.done():
            job.cancel()

    def _video_path(self) -> Path | None:
        if self.upload.value:
            item = (
                self.upload.value[0]
                if isinstance(self.upload.value, (list, tuple))
                else next(iter(self.upload.value.values()))
            )
            name = Path(str(item.get("name", "upload.mp4"))).name
            target = Path(tempfile.mkdtemp(prefix="pixelnb-upload-")) / name
            target.write_bytes(bytes(item["content"]))
            return target
        text = self.path.value.strip()
        return Path(text).expanduser() if text else None

    def convert(self) -> None:
        """Convert the chosen file or upload (the Convert button); no key needed."""
        from pixelnb.pixelate import pixelate

        self.error.value = ""
        path = self._video_path()
        if path is None:
            self.error.value = _error_html(PixelnbError("choose a video: type its path or upload one"))
            return
        self._selected = None
        self.source_grid.clear()
        self.pixel_grid.clear()
        opts = self._pixel().replace(grid="auto" if self.find_grid.value else "off").kwargs()
        t0 = time.monotonic()

        def done(sprite: Sprite) -> None:
            self.stage.value = (
                f"converted <code>{html.escape(path.name)}</code> in {time.monotonic() - t0:.1f}s"
            )
            self.progress.value = 1.0
            self._show_result(sprite, path)

        def failed(err: BaseException) -> None:
            self.error.value = _error_html(err)

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                done(pixelate(path, **opts, on_frame=self.source_grid.append))
            except PixelnbError as err:
                failed(err)
            return

        def frame(arr: Any) -> None:
            loop.call_soon_threadsafe(self.source_grid.append, arr)

        async def run() -> None:
            try:
                done(await asyncio.to_thread(pixelate, path, **opts, on_frame=frame))
            except PixelnbError as err:
                failed(err)

        self._task = loop.create_task(run())

    def export(self, kind: str) -> Path | None:
        """Save the shown Sprite (``gif``, ``png`` sheet + JSON, or ``zip`` of frames) and
        offer it for download."""
        if self.sprite is None:
            self.error.value = _error_html(PixelnbError("nothing to export yet: generate or convert first"))
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"pixelnb-{time.strftime('%Y%m%d-%H%M%S')}"
        files: list[Path]
        if kind == "gif":
            files = [self.sprite.save(self.out_dir / f"{stem}.gif", scale=4)]
        elif kind == "png":
            sheet = self.sprite.save(self.out_dir / f"{stem}.png")
            files = [sheet, sheet.with_suffix(".json")]
        else:
            folder = self.sprite.save(self.out_dir / stem)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(folder.glob("*.png")):
                    zf.write(f, f.name)
            target = self.out_dir / f"{stem}.zip"
            target.write_bytes(buf.getvalue())
            files = [target]
        links = []
        for f in files:
            data = base64.b64encode(f.read_bytes()).decode("ascii")
            mime = {".gif": "image/gif", ".png": "image/png", ".json": "application/json"}.get(
                f.suffix, "application/zip"
            )
            name = html.escape(f.name)
            links.append(f'<a download="{name}" href="data:{mime};base64,{data}">{name}</a>')
        self.links.value = (
            "Saved to <code>" + html.escape(str(self.out_dir)) + "</code>: " + " · ".join(links)
        )
        return files[0]
