"""Many videos at once: one task per file, on a local process pool or a Dask cluster.

Each task reads its input and writes its output itself, so paths travel between
processes and frames never do; outputs are written whole (a hidden part file renamed)
with their provenance. A re-run skips an input whose output already records the same
input sha256, options, scale and pixelnb version. A bad file is reported with its reason
and never stops the batch.

``executor`` is None (a process pool sized to the usable cores), any
:class:`concurrent.futures.Executor`, a ``dask.distributed.Client`` (or its
``get_executor()``), or a scheduler address such as ``"tcp://10.0.0.5:8786"``.
"""

from __future__ import annotations

import concurrent.futures as cf
import glob
import html
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelnb.errors import OptionError, PixelnbError

__all__ = [
    "BatchItem",
    "BatchResult",
    "Executor",
    "convert_many",
    "convert_one",
    "expand_inputs",
    "plan_outputs",
    "resolve_executor",
]

Executor = Any  # a concurrent.futures.Executor, a dask Client, or a scheduler address
PATTERN_KEYS = ("stem", "name", "suffix", "parent", "index")
POOL_RETRIES = 2  # a local pool whose worker died is rebuilt this many times
BatchProgress = Callable[[int, int, "BatchItem"], None]


@dataclass(frozen=True)
class BatchItem:
    """One input's outcome: ``status`` is ``"ok"``, ``"skipped"`` (its output was already
    made from the same input and options) or ``"failed"`` (``error`` says why)."""

    input: str
    output: str
    status: str
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """What a batch did, file by file; a table in a notebook."""

    items: tuple[BatchItem, ...]
    seconds: float
    executor: str

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BatchItem]:
        return iter(self.items)

    def _with(self, status: str) -> list[BatchItem]:
        return [i for i in self.items if i.status == status]

    @property
    def ok(self) -> list[BatchItem]:
        return self._with("ok")

    @property
    def skipped(self) -> list[BatchItem]:
        return self._with("skipped")

    @property
    def failed(self) -> list[BatchItem]:
        return self._with("failed")

    def summary(self) -> str:
        return (
            f"{len(self)} files: {len(self.ok)} ok, {len(self.skipped)} skipped, {len(self.failed)} failed "
            f"in {self.seconds:.1f} s on {self.executor}"
        )

    def __repr__(self) -> str:
        return f"BatchResult({self.summary()})"

    def to_html(self) -> str:
        """The result as an HTML table (input, output, status, seconds, error)."""
        colour = {"ok": "#2a7", "skipped": "#888", "failed": "#c33"}
        rows = "".join(
            f"<tr><td>{html.escape(Path(i.input).name)}</td><td>{html.escape(i.output)}</td>"
            f'<td style="color:{colour[i.status]}">{i.status}</td><td>{i.seconds:.2f}</td>'
            f"<td>{html.escape(i.error or '')}</td></tr>"
            for i in self.items
        )
        return (
            f"<p>{html.escape(self.summary())}</p><table><thead><tr><th>input</th><th>output</th>"
            f"<th>status</th><th>s</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per input (needs pandas)."""
        try:
            import pandas as pd  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame([i.__dict__ for i in self.items])


def expand_inputs(inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Paths and glob patterns (``clips/*.mp4``, ``**`` too) as a list of paths, in order,
    each once. A pattern that matches nothing is an error (a typo should not be a no-op)."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    out: dict[Path, None] = {}
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            found = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not found:
                raise OptionError(f"the pattern {text!r} matches no file")
            out.update((Path(f), None) for f in found if not Path(f).is_dir())
        else:
            out[Path(text).expanduser()] = None  # a missing file is reported by its task
    if not out:
        raise OptionError("no input files were given")
    return list(out)


def plan_outputs(inputs: Sequence[Path], out_dir: Path, pattern: str) -> list[Path]:
    """Each input's output path in ``out_dir`` from ``pattern``; two inputs may not share one."""
    from pixelnb.export import FORMATS

    outs: dict[Path, Path] = {}
    for index, src in enumerate(inputs):
        values = {"stem": src.stem, "name": src.name, "suffix": src.suffix, "parent": src.parent.name}
        try:
            name = pattern.format(index=index, **values)
        except (KeyError, IndexError, ValueError) as exc:
            raise OptionError(
                f"the pattern {pattern!r} cannot be filled ({exc}); use {{stem}}, {{name}}, {{suffix}}, "
                "{parent} or {index}, as in '{stem}.gif'"
            ) from None
        dst = out_dir / name
        if dst.suffix.lower() not in FORMATS:
            raise OptionError(
                f"the pattern {pattern!r} gives {name!r}; end it with one of {', '.join(FORMATS)}"
            )
        if dst in outs:
            raise OptionError(
                f"{outs[dst]} and {src} would both write {dst}; use a pattern that tells them apart, "
                "such as '{parent}_{stem}.gif'"
            )
        outs[dst] = src
    return list(outs)


def _same_work(dst: Path, sha256: str, options: dict[str, Any], scale: int, crop: bool) -> bool:
    """Whether ``dst`` already records this input, these options and this pixelnb."""
    from pixelnb._version import __version__
    from pixelnb.stamp import provenance

    try:
        rec = provenance(dst)
    except PixelnbError:
        return False
    return (
        rec.get("pixelnb") == __version__
        and (rec.get("source") or {}).get("sha256") == sha256
        and rec.get("options") == options
        and rec.get("scale") == scale
        and ("crop" in (rec.get("edits") or {})) == crop
    )


def convert_one(
    src: str,
    dst: str,
    options: dict[str, Any],
    scale: int = 1,
    crop: bool = False,
    created: str | None = None,
) -> BatchItem:
    """The task: convert ``src`` to ``dst`` unless ``dst`` already records the same work.
    Runs in a worker; takes and returns only small values. Never raises for a bad file."""
    t0 = time.perf_counter()

    def item(status: str, error: str | None = None) -> BatchItem:
        return BatchItem(src, dst, status, round(time.perf_counter() - t0, 4), error)

    try:
        from pixelnb.options import PixelOptions
        from pixelnb.pipeline import pixelate_with
        from pixelnb.stamp import created_time, file_sha256, fixed_time

        target = Path(dst)
        if (
            target.exists()
            and Path(src).is_file()
            and _same_work(target, file_sha256(src), options, scale, crop)
        ):
            return item("skipped")
        opts = PixelOptions.coerce(options)
        sprite = pixelate_with(src, opts)
        if crop:
            sprite = sprite.crop()
        with fixed_time(created or created_time()):
            sprite.save(target, scale=scale)
        return item("ok")
    except PixelnbError as exc:
        return item("failed", str(exc))
    except OSError as exc:
        return item("failed", f"{exc.strerror or exc}: {exc.filename or src}")
    except Exception as exc:  # a bug must not stop the other files either
        return item("failed", f"unexpected {type(exc).__name__}: {exc} (a bug in pixelnb; please report it)")


def _worker_init(decode_threads: int) -> None:
    """A pool worker: one BLAS thread, and its share of the cores for decoding (several
    workers already fill them; on short clips extra frame threads cost more than they give,
    benchmarks/README.md)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if decode_threads:
        os.environ.setdefault("PIXELNB_DECODE_THREADS", str(decode_threads))


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    import multiprocessing

    share = _cores() // workers if workers > 1 else 0  # one worker keeps the default
    # Not a plain fork: forking a process with threads (a notebook kernel has several) can
    # deadlock. A fork server is started once, imports the pipeline once, and forks each
    # worker from that clean process, so the next batch's workers start at once; where
    # there is none (macOS, Windows), spawn.
    ctx: multiprocessing.context.BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        server = multiprocessing.get_context("forkserver")
        server.set_forkserver_preload(["pixelnb._forkserver"])
        ctx = server
    else:
        ctx = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(max(1, share) if workers > 1 else 0,),
    )


def resolve_executor(
    executor: Executor, workers: int | None = None
) -> tuple[cf.Executor, str, Callable[[], None]]:
    """(executor, description, close) for what ``convert_many`` was given; ``close`` shuts
    down only what was made here."""
    if executor is None:
        n = workers or _cores()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise OptionError(f"workers must be a whole number of at least 1, got {workers!r}")
        pool = _local_pool(n)
        return (
            pool,
            f"a local pool of {n} process{'es' if n > 1 else ''}",
            lambda: pool.shutdown(cancel_futures=True),
        )
    if isinstance(executor, str):
        try:
            from distributed import Client
        except ImportError:
            raise OptionError("a scheduler address needs Dask: pip install 'pixelnb[dask]'") from None
        try:
            client = Client(executor, timeout=30)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise OptionError(
                f"cannot reach the Dask scheduler at {executor!r} ({exc}); is it running?"
            ) from None
        pool = client.get_executor(pure=False)  # type: ignore[no-untyped-call]
        return pool, f"Dask at {executor}", client.close
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor"):
        return executor.get_executor(pure=False), f"Dask ({executor.scheduler.address})", lambda: None
    if isinstance(executor, cf.Executor):
        return executor, type(executor).__name__, lambda: None
    raise OptionError(
        "executor must be None, a concurrent.futures.Executor, a dask Client or a scheduler address, "
        f"not {executor!r}"
    )


def convert_many(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    pattern: str = "{stem}.gif",
    executor: Executor = None,
    workers: int | None = None,
    scale: int = 1,
    crop: bool = False,
    progress: BatchProgress | None = None,
    **pixel_options: Any,
) -> BatchResult:
    """Convert every input (paths or glob patterns) into ``out_dir``, one task per file.

    ``pattern`` names each output from its input (``{stem}``, ``{name}``, ``{suffix}``,
    ``{parent}``, ``{index}``); its extension picks the format. ``pixel_options`` are
    :func:`pixelnb.pixelate`'s, checked once before any work. ``progress(done, total,
    item)`` is called as each file ends. Returns a :class:`BatchResult`; a bad file is a
    failed item, not an exception.

    >>> from pixelnb.data import sample_clip
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> result = convert_many([sample_clip()], out, workers=1, size=16, colors=4, fps=2)
    >>> [(item.status, Path(item.output).name) for item in result]
    [('ok', 'bigbuckbunny_270p.gif')]
    """
    from pixelnb.options import PixelOptions
    from pixelnb.stamp import created_time

    t0 = time.perf_counter()
    opts = PixelOptions.coerce(pixel_options)  # every option checked before any work
    opts.check_output(scale)  # the scale too
    if opts.grid not in ("auto", "off"):
        raise OptionError("a batch takes grid='auto' or 'off' (each video finds its own grid)")
    options = opts.to_dict()
    sources = expand_inputs(inputs)
    folder = Path(out_dir)
    targets = plan_outputs(sources, folder, pattern)
    folder.mkdir(parents=True, exist_ok=True)
    created = created_time()  # one time for the whole batch, wherever its files are written
    pool, described, close = resolve_executor(executor, workers)
    jobs = [(str(s), str(d)) for s, d in zip(sources, targets, strict=True)]
    done: dict[str, BatchItem] = {}
    try:
        for attempt in range(POOL_RETRIES + 1):
            waiting = [j for j in jobs if j[1] not in done]
            if not waiting:
                break
            try:
                futures = {
                    pool.submit(convert_one, s, d, options, scale, crop, created): (s, d) for s, d in waiting
                }
                for fut in cf.as_completed(futures):
                    got = fut.result()
                    done[got.output] = got
                    if progress is not None:
                        progress(len(done), len(jobs), got)
            except cf.process.BrokenProcessPool:
                # A worker died (killed, out of memory): its files and the ones queued
                # behind it are tried again on a new pool; finished ones are skipped.
                if executor is not None or attempt == POOL_RETRIES:
                    break  # what is left is reported as failed
                close()
                pool = _local_pool(workers or _cores())
                close = pool.shutdown
    finally:
        close()
    items = tuple(done.get(d) or BatchItem(s, d, "failed", 0.0, "its worker died") for s, d in jobs)
    return BatchResult(items, round(time.perf_counter() - t0, 3), described)


def _cores() -> int:
    """video.usable_cores, imported when called: this module stays free of numpy, so a
    spawned worker sets its BLAS threads (_worker_init) before numpy loads."""
    from pixelnb.video import usable_cores

    return usable_cores()
