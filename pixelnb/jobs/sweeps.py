"""Prompt sweeps: every prompt × video option generated once through one JobManager, then
every pixel variant of each video made on an executor (a process pool or Dask).

Generations go through one manager, so its per-key limits and the one-payment rule hold
across the whole sweep (a repeated request is the same job; a finished one is reused).
Only the pixel stage fans out: a task gets a video path and options, and gives back a
Sprite (a few hundred kB of indices, never the frames).
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pixelnb.batch import Executor, resolve_executor
from pixelnb.errors import OptionError, PixelnbError
from pixelnb.jobs.api import default_manager
from pixelnb.jobs.manager import JOB_DEFAULTS, JobManager, _check_fits, generation_record
from pixelnb.luma import GenerationRequest
from pixelnb.options import PixelOptions
from pixelnb.sprite import Sprite

__all__ = ["SweepItem", "SweepResult", "expand_grid", "pixelate_variant", "sweep"]

# generate()'s option that takes a list as one value: a sweep over it is a list of lists.
_LIST_VALUED = ("concepts",)


@dataclass(frozen=True)
class SweepItem:
    """One combination: its ``params`` (prompt, video and pixel options), and its Sprite or
    why there is none."""

    params: dict[str, Any]
    sprite: Sprite | None
    error: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class SweepResult(Sequence[SweepItem]):
    """The sweep's items, with how many generations it asked Luma for."""

    items: tuple[SweepItem, ...]
    generations: int

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: Any) -> Any:
        return self.items[i]

    def __iter__(self) -> Iterator[SweepItem]:
        return iter(self.items)

    def where(self, **params: Any) -> list[SweepItem]:
        """The items whose parameters have these values."""
        return [i for i in self.items if all(i.params.get(k) == v for k, v in params.items())]

    @property
    def failed(self) -> list[SweepItem]:
        return [i for i in self.items if i.sprite is None]

    def __repr__(self) -> str:
        return (
            f"SweepResult({len(self)} results from {self.generations} generations, {len(self.failed)} failed)"
        )

    def to_html(self) -> str:
        """A static grid: each sprite with its parameters (what a reopened notebook shows)."""
        cards = []
        for item in self.items:
            label = html.escape(", ".join(f"{k}={v}" for k, v in item.params.items()))
            body = item.sprite.to_html(width=160) if item.sprite else html.escape(item.error or "")
            cards.append(f'<figure style="margin:4px">{body}<figcaption>{label}</figcaption></figure>')
        return f'<div style="display:flex;flex-wrap:wrap">{"".join(cards)}</div>'

    def _repr_html_(self) -> str:
        return self.to_html()


def expand_grid(spec: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every combination of a grid's values: a list is swept, anything else (a tuple such as
    a ``(w, h)`` size or an ``(r, g, b)`` colour too) is one value; ``concepts``, itself a
    list, is swept by a list of lists.

    >>> expand_grid({"colors": [8, 16], "palette": ["auto", "pico-8"], "fps": 12})[1]
    {'colors': 8, 'palette': 'pico-8', 'fps': 12}
    """
    if not spec:
        return [{}]
    if not isinstance(spec, Mapping):
        raise OptionError(f"a grid is a dict of option: value or [values], not {spec!r}")
    axes: list[list[tuple[str, Any]]] = []
    for name, value in spec.items():
        swept = isinstance(value, list) and (
            name not in _LIST_VALUED or all(isinstance(v, (list, tuple)) for v in value)
        )
        values = list(value) if swept else [value]
        if not values:
            raise OptionError(f"the sweep gives {name!r} no values")
        axes.append([(name, v) for v in values])
    return [dict(combo) for combo in itertools.product(*axes)]


def pixelate_variant(video: str, options: dict[str, Any], generation: dict[str, Any]) -> Sprite:
    """The task: one video with one set of pixel options, its generation recorded."""
    from pixelnb.pipeline import pixelate_with

    sprite = pixelate_with(video, PixelOptions.coerce(options))
    sprite.info["provenance"]["generation"] = generation
    return sprite


def sweep(
    prompts: str | Sequence[str],
    *,
    video: Mapping[str, Any] | None = None,
    pixel_grid: Mapping[str, Any] | None = None,
    executor: Executor = None,
    workers: int | None = None,
    manager: JobManager | None = None,
    timeout: float | None = None,
) -> SweepResult:
    """Generate every prompt × ``video`` combination once and make every ``pixel_grid``
    variant of each.

    ``video`` holds :func:`pixelnb.generate`'s options (``{"model": ["ray-2",
    "ray-flash-2"], "duration": "5s"}``); ``pixel_grid`` :func:`pixelnb.pixelate`'s
    (``{"colors": [8, 16], "palette": ["auto", "pico-8"]}``); lists are swept. Everything is
    checked before the first generation is paid for. The pixel variants run on ``executor``
    (None: a local process pool; a dask Client or scheduler address: the cluster).
    """
    prompt_list = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompt_list or not all(isinstance(p, str) and p.strip() for p in prompt_list):
        raise OptionError(f"prompts must be one or more non-empty texts, got {prompts!r}")
    video_grid = expand_grid(video)
    for v in video_grid:
        if "pixel" in v or "prompt" in v or "manager" in v:
            raise OptionError("video holds generate()'s video options; give prompts and pixel_grid apart")
    variants = [PixelOptions.coerce(p, **JOB_DEFAULTS) for p in expand_grid(pixel_grid)]
    for opts in variants:
        opts.to_json()  # a Grid object cannot be sent to a worker's job: refuse it now
    plans: list[tuple[dict[str, Any], GenerationRequest]] = []
    for prompt, v in itertools.product(prompt_list, video_grid):
        try:
            request = GenerationRequest.build(prompt, **v)
        except TypeError as exc:
            raise OptionError(f"unknown video option in {v}: {exc}") from None
        request.validate()
        for opts in variants:
            _check_fits(opts, request)
        plans.append(({"prompt": prompt, **v}, request))

    m = manager or default_manager()
    jobs = [m.submit(request, variants[0]) for _, request in plans]  # twins are one job
    distinct = {job.id for job in jobs}
    outcomes: list[PixelnbError | None] = []
    made: dict[str, Sprite] = {}  # each job's own sprite is the first variant
    for job in jobs:
        try:
            made[job.id] = job.result(timeout)
            outcomes.append(None)
        except PixelnbError as err:
            outcomes.append(err)

    # Each job made the first variant; a pool is started only for the others.
    pool, _, close = resolve_executor(executor, workers) if len(variants) > 1 else (None, "", lambda: None)
    pixel_names = list((pixel_grid or {}).keys())
    items: list[SweepItem] = []
    try:
        futures: list[tuple[dict[str, Any], str, cf.Future[Sprite] | Sprite | None, str | None]] = []
        for (params, request), job, failure in zip(plans, jobs, outcomes, strict=True):
            rec = m.store.get(job.id)
            for n, opts in enumerate(variants):
                full = {**params, **{k: getattr(opts, k) for k in pixel_names}}
                if failure is not None or rec is None or not rec.video_path:
                    futures.append((full, job.id, None, str(failure or "no video")))
                elif n == 0:
                    futures.append((full, job.id, made[job.id], None))
                else:
                    assert pool is not None
                    gen = generation_record(request, rec)
                    task = pool.submit(pixelate_variant, rec.video_path, opts.to_dict(), gen)
                    futures.append((full, job.id, task, None))
        for params, job_id, pending, why in futures:
            if pending is None or isinstance(pending, Sprite):
                items.append(SweepItem(params, pending, why, job_id))
                continue
            try:
                items.append(SweepItem(params, pending.result(), None, job_id))
            except PixelnbError as exc:
                items.append(SweepItem(params, None, str(exc), job_id))
    finally:
        close()
    return SweepResult(tuple(items), len(distinct))
