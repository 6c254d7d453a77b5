"""Frame sampling: decode a video file and pick frames by time, downscaled as they arrive.

PyAV decodes in order by default; ``backend="decord"`` uses decord (or its fork decord2),
which picks frames by index and fetches them in batches, with a reader opened for the call
and closed after it. Both backends pick the same frames:

1. the wanted times are ``start + k / fps`` (or ``frames`` times spread over the span, or
   every frame when neither is given);
2. for each wanted time the frame whose presentation timestamp is nearest wins, the
   earlier one on a tie; timestamps, not frame counts, so variable-frame-rate phone clips
   come out right;
3. each chosen frame is converted straight to the requested size (area averaging) and the
   rotation tag is applied, so a 10 s 1080p clip never holds its full-size frames at once.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from pixelnb.errors import OptionError, VideoError

__all__ = ["BACKENDS", "Clip", "VideoInfo", "fit_size", "probe", "sample"]

BACKENDS = ("pyav", "decord")
Backend = Literal["pyav", "decord"]
Size = int | tuple[int, int]
SizeRule = Size | Callable[[int, int], tuple[int, int]] | None
Progress = Callable[[float], None]

MAX_PIXELS = 8192 * 8192  # larger than any camera makes; beyond it a header is lying
_CHUNK = 16  # decord batch size
# Two frames this close to a wanted time are a tie (the earlier wins): both backends
# compute times in floating point from different time bases.
_TIE = 1e-6
# With exact=False, H.264's deblocking (loop) filter is skipped when every output pixel
# averages at least this many source pixels across: its edits are then 1-3/255 of a
# pixel (benchmarks/README.md, "Fast decoding"), below what a palette can show, and
# decoding is about a fifth faster. exact=True always decodes in full.
FAST_DEBLOCK_FACTOR = 4
# Frame threads for PyAV's decoder. More than the cores keeps a deeper pipeline of frames in
# flight, which hides the waits between dependent frames when non-reference frames are
# skipped: on 2 cores, 6 decode 1080p H.264 about 15 % faster than FFmpeg's default (one
# more than the cores). Each holds a frame, so large frames get fewer: DECODE_BUDGET bytes
# of YUV 4:2:0 frames in flight at most (a 4K clip keeps FFmpeg's default).
DECODE_BUDGET = 40 << 20


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or taskset sets
    it), not all the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _decode_threads(w: int, h: int) -> int:
    """How many frame threads decode a w×h stream: up to 2 × cores + 2 (at most 8) where
    DECODE_BUDGET allows, never fewer than FFmpeg's default of cores + 1.
    ``PIXELNB_DECODE_THREADS`` sets it (a batch's workers, which already fill the cores,
    decode with one each)."""
    fixed = os.environ.get("PIXELNB_DECODE_THREADS", "").strip()
    if fixed.isdigit() and int(fixed) > 0:
        return int(fixed)
    cores = usable_cores()
    by_memory = int(DECODE_BUDGET // max(w * h * 3 // 2, 1))
    return max(cores + 1, min(8, 2 * cores + 2, by_memory))


@dataclass(frozen=True, eq=False)
class Clip:
    """Frames sampled from a video: ``frames`` (T, H, W, 3) uint8, their times and rate.

    ``timestamps`` are the presentation times (seconds from the stream's start) of the
    source frames that were picked; ``fps`` is the rate they were picked at.
    """

    frames: NDArray[np.uint8]
    fps: float
    timestamps: NDArray[np.float64]
    source: str | None = None
    rotation: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fps", float(self.fps))

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration(self) -> float:
        """Seconds the clip lasts when played at ``fps``."""
        return len(self) / self.fps if self.fps else 0.0

    def __repr__(self) -> str:
        return (
            f"Clip({len(self)} frames, {self.width}x{self.height}, {self.fps:g} fps, source={self.source!r})"
        )


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the first video stream (sizes after rotation)."""

    path: str
    width: int
    height: int
    fps: float
    duration: float | None
    frames: int | None
    rotation: int
    codec: str


def _check_file(path: str | os.PathLike[str]) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise OptionError(f"the video must be a file path, not {path!r}")
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise VideoError(p, "no such file; check the path") from None
    except OSError as exc:  # a name too long, a folder that is a file, no permission
        raise VideoError(p, f"cannot be opened ({exc.strerror or exc}); check the path") from None
    if p.is_dir():
        raise VideoError(p, "is a folder, not a video file")
    if st.st_size == 0:
        raise VideoError(p, "the file is empty (0 bytes); was the download or copy cut short?")
    return p


def _open(p: Path) -> Any:
    import av

    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        declared = _declared_size(p)
        if declared is not None and declared[0] * declared[1] > MAX_PIXELS:
            raise VideoError(
                p,
                f"the file declares an absurd picture size {declared[0]}x{declared[1]}; "
                "it is damaged or not a video",
            ) from None
        raise VideoError(
            p, f"not a readable video ({exc.strerror or exc}); the file may be corrupt or truncated"
        ) from None


def _declared_size(p: Path) -> tuple[int, int] | None:
    """The picture size a raw-video (Y4M) header declares. FFmpeg refuses an absurd one at
    open time with only "Device or resource busy" to show for it (the reason goes to its
    log, which is off: turning it on risks deadlocks with threaded decoding)."""
    try:
        with p.open("rb") as f:
            head = f.readline(256)
    except OSError:
        return None
    if not head.startswith(b"YUV4MPEG2"):
        return None
    w = re.search(rb" W(\d+)", head)
    h = re.search(rb" H(\d+)", head)
    return (int(w[1]), int(h[1])) if w and h else None


def _video_stream(container: Any, p: Path) -> Any:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no streams"]
        raise VideoError(p, f"has no video stream (it holds: {', '.join(kinds)})")
    return container.streams.video[0]


def _rotation_of(frame: Any | None) -> int:
    """The display rotation (counter-clockwise degrees) that the stream's tag asks for."""
    return round(getattr(frame, "rotation", 0) or 0) % 360 if frame is not None else 0


def probe(path: str | os.PathLike[str], *, rotation: bool = True) -> VideoInfo:
    """Read a video's size, rate, duration and rotation without decoding all of it.

    The rotation tag is read from the first decoded frame; ``rotation=False`` reads the
    headers alone (a tenth of a second less on 1080p) and reports the stored size with
    rotation 0."""
    p = _check_file(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        cc = stream.codec_context
        w, h = int(cc.width), int(cc.height)
        _check_dims(p, w, h)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = _duration(container, stream)
        first = None
        if rotation:
            try:
                first = next(container.decode(stream), None)
            except Exception:  # a bad first frame is reported by sample()
                first = None
        rot = _rotation_of(first)
        if rot in (90, 270):
            w, h = h, w
        return VideoInfo(
            path=str(p),
            width=w,
            height=h,
            fps=fps,
            duration=duration,
            frames=int(stream.frames) or None,
            rotation=rot,
            codec=cc.name,
        )


def _check_dims(p: Path, w: int, h: int) -> None:
    if w <= 0 or h <= 0:
        raise VideoError(p, f"the video stream reports an impossible size {w}x{h}")
    if w * h > MAX_PIXELS:
        raise VideoError(p, f"the video stream reports an absurd size {w}x{h}; refusing to decode")


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000
    return None


def fit_size(src_w: int, src_h: int, size: Size | None) -> tuple[int, int]:
    """Output (w, h) for ``size``: the longest side (aspect kept) or an exact (w, h)."""
    if size is None:
        return src_w, src_h
    if isinstance(size, bool):
        raise OptionError(f"size must be a whole number or (width, height), not {size!r}")
    if isinstance(size, (int, np.integer)):
        n = int(size)
        if n < 1:
            raise OptionError(f"size must be at least 1 pixel, got {n}")
        if n > max(src_w, src_h):
            raise OptionError(
                f"size {n} is larger than the source ({src_w}x{src_h}); choose at most {max(src_w, src_h)}"
            )
        if src_w >= src_h:
            return n, max(1, round(src_h * n / src_w))
        return max(1, round(src_w * n / src_h)), n
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise OptionError(f"size must be a whole number or (width, height), not {size!r}") from None
    if w < 1 or h < 1:
        raise OptionError(f"size must be at least 1x1 pixels, got {w}x{h}")
    if w > src_w or h > src_h:
        raise OptionError(
            f"size {w}x{h} is larger than the source ({src_w}x{src_h}); pixelnb only downscales"
        )
    return w, h


def _targets(
    fps: float | None, frames: int | None, start: float, end: float | None
) -> Iterator[float] | None:
    """The wanted times, ascending; None means every frame in the span."""
    if fps is None and frames is None:
        return None
    if fps is not None:
        step = 1.0 / fps

        def at_rate() -> Iterator[float]:
            k = 0
            while frames is None or k < frames:
                t = start + k * step
                if end is not None and t >= end - 1e-9:
                    return
                yield t
                k += 1

        return at_rate()
    assert frames is not None
    span_end = end if end is not None else start
    span = max(span_end - start, 0.0)
    return (start + span * k / frames for k in range(frames))


def _out_size(w: int, h: int, size: SizeRule) -> tuple[int, int]:
    return size(w, h) if callable(size) else fit_size(w, h, size)


def _shrink_factor(w: int, h: int, size: SizeRule) -> float:
    """How many source pixels across one output pixel averages (the smaller of the two
    axes; a rotation tag swaps both sides alike, so the pre-rotation size serves)."""
    try:
        out_w, out_h = _out_size(w, h, size)
    except OptionError:  # a (w, h) meant for the rotated picture: decode in full
        return 1.0
    return min(w / max(out_w, 1), h / max(out_h, 1), max(w, h) / max(out_w, out_h, 1))


def _out_fps(
    fps: float | None, frames: int | None, start: float, span_end: float | None, src_fps: float
) -> float:
    """The rate a clip plays at: the one asked for, else its frames spread over the span,
    else the source's."""
    if fps is not None:
        return fps
    if frames and span_end and span_end > start:
        return frames / (span_end - start)
    return src_fps


def _rotate(img: NDArray[np.uint8], rotation: int) -> NDArray[np.uint8]:
    # The tag gives the counter-clockwise angle the player must turn the picture by.
    if rotation == 0:
        return img
    return np.ascontiguousarray(np.rot90(img, k=rotation // 90))


def _validate(
    fps: float | None, frames: int | None, start: float | None, end: float | None, backend: str
) -> None:
    if fps is not None and not (isinstance(fps, (int, float)) and 0 < fps <= 240):
        raise OptionError(f"fps must be a number above 0 and at most 240, got {fps!r}")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
        raise OptionError(f"frames must be a whole number of at least 1, got {frames!r}")
    if start is not None and start < 0:
        raise OptionError(f"start must be 0 or later, got {start}")
    if start is not None and end is not None and end <= start:
        raise OptionError(f"end ({end}) must come after start ({start})")
    if backend not in BACKENDS:
        raise OptionError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")


def sample(
    path: str | os.PathLike[str],
    fps: float | None = None,
    frames: int | None = None,
    start: float | None = None,
    end: float | None = None,
    size: SizeRule = None,
    backend: Backend = "pyav",
    *,
    exact: bool = True,
    interpolation: str = "AREA",
    progress: Progress | None = None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
    keep: bool = True,
) -> Clip:
    """Decode ``path`` and return the chosen frames as a :class:`Clip`.

    ``fps`` picks frames at that rate, ``frames`` caps their number (alone, it spreads them
    evenly over the span), ``start``/``end`` bound the span in seconds, ``size`` is the
    longest side or (w, h) of the output (or a function of the displayed source size that
    returns (w, h), for callers that need the source size first). ``on_frame`` is called
    with each picked frame as soon as it is decoded (a live view fills from it). With
    ``exact=False`` the decoder skips non-reference frames when sampling at half the
    source rate or less: faster, and each picked frame is at most one source frame from
    the exact one. ``keep=False`` streams: the frames go to ``on_frame`` only, and the
    Clip comes back with their timestamps and no frames (a long clip never sits in memory).

    >>> from pixelnb.data import sample_clip
    >>> clip = sample(sample_clip(), fps=5, size=32)
    >>> clip.frames.shape, clip.fps
    ((27, 18, 32, 3), 5.0)
    """
    _validate(fps, frames, start, end, backend)
    p = _check_file(path)
    if backend == "decord":
        return _sample_decord(p, fps, frames, start or 0.0, end, size, progress, on_frame, keep=keep)
    return _sample_pyav(
        p, fps, frames, start or 0.0, end, size, exact, interpolation, progress, on_frame, keep=keep
    )


class _Collector:
    """Turns picked source frames into small arrays, reusing one when it is picked twice."""

    def __init__(
        self,
        out_size: tuple[int, int],
        rotation: int,
        on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
        keep: bool = True,
    ) -> None:
        self.on_frame = on_frame
        self.keep = keep  # False: hold only the last frame (a repeat reuses it)
        self.count = 0
        self.out_w, self.out_h = out_size
        self.rotation = rotation
        self.frames: list[NDArray[np.uint8]] = []
        self.times: list[float] = []
        self._last_key: Any = None

    @property
    def convert_size(self) -> tuple[int, int]:
        """The (w, h) a frame is scaled to: the pre-rotation size, rotated into place after."""
        return (self.out_h, self.out_w) if self.rotation in (90, 270) else (self.out_w, self.out_h)

    def add(self, key: Any, t: float, convert: Callable[[int, int], NDArray[np.uint8]]) -> None:
        if key is not None and key == self._last_key:
            self.frames.append(self.frames[-1])
        else:
            self.frames.append(_rotate(convert(*self.convert_size), self.rotation))
        self.times.append(t)
        self._last_key = key
        self.count += 1
        if self.on_frame is not None:
            self.on_frame(self.frames[-1])
        if not self.keep:
            del self.frames[:-1]

    def clip(self, fps: float, source: Path, meta: dict[str, Any]) -> Clip:
        if self.keep and self.frames:
            arr = np.stack(self.frames)
        else:
            h, w = self.frames[0].shape[:2] if self.frames else (self.out_h, self.out_w)
            arr = np.zeros((0, h, w, 3), np.uint8)
        return Clip(arr, fps, np.array(self.times, dtype=np.float64), str(source), self.rotation, meta)


class _Scaler:
    """Scales decoded frames on one worker thread, so that the decoder is fed its next
    packets while the last picked frame is converted (libswscale runs without the GIL).

    Results come back in order on the caller's thread, through futures the caller waits on
    (at most ``DEPTH`` frames in flight, so memory stays bounded): ``on_frame`` and the
    collector never run on another thread.
    """

    DEPTH = 3

    def __init__(self, interpolation: str) -> None:
        import av.video.reformatter

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="pixelnb-scale")
        # One reformatter for the whole clip: it keeps its scaler, which is costly to set up.
        self._reformatter = av.video.reformatter.VideoReformatter()
        self._interpolation = interpolation

    def _convert(self, frame: Any, w: int, h: int) -> NDArray[np.uint8]:
        out = self._reformatter.reformat(
            frame, width=w, height=h, format="rgb24", interpolation=self._interpolation
        )
        arr: NDArray[np.uint8] = np.asarray(out.to_ndarray(), dtype=np.uint8)
        return arr

    def submit(self, frame: Any, w: int, h: int) -> Future[NDArray[np.uint8]]:
        return self._pool.submit(self._convert, frame, w, h)

    def __enter__(self) -> _Scaler:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _waiter(job: Future[NDArray[np.uint8]] | None) -> Callable[[int, int], NDArray[np.uint8]]:
    """A converter for the collector that waits for the scaler's result (the size was
    given when the frame was sent). None stands for a repeated frame, which is reused."""

    def wait(_w: int, _h: int) -> NDArray[np.uint8]:
        if job is None:
            raise AssertionError("a repeated frame is reused, never converted again")
        return job.result()

    return wait


def _sample_pyav(
    p: Path,
    fps: float | None,
    frames: int | None,
    start: float,
    end: float | None,
    size: SizeRule,
    exact: bool,
    interpolation: str,
    progress: Progress | None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
    *,
    keep: bool = True,
) -> Clip:
    import av

    with _open(p) as container, _Scaler(interpolation) as scaler:
        stream = _video_stream(container, p)
        cc = stream.codec_context
        src_w, src_h = int(cc.width), int(cc.height)
        _check_dims(p, src_w, src_h)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        src_fps = float(rate) if rate else 25.0
        duration = _duration(container, stream)
        stream.thread_type = "AUTO"
        stream.thread_count = _decode_threads(src_w, src_h)
        if not exact and fps is not None and fps <= src_fps / 2:
            cc.skip_frame = "NONREF"
        deblock = exact or size is None or _shrink_factor(src_w, src_h, size) < FAST_DEBLOCK_FACTOR
        if not deblock:
            cc.options = {**cc.options, "skip_loop_filter": "all"}
        t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        span_end = end if end is not None else duration
        if frames is not None and fps is None and span_end is None:
            raise VideoError(p, "the file does not say how long it is; pass end= or fps=")
        targets = _targets(fps, frames, start, span_end)
        out_fps = _out_fps(fps, frames, start, span_end, src_fps)
        collector: _Collector | None = None
        prev: tuple[Any, float, int] | None = None
        seq = -1
        target = next(targets, None) if targets is not None else None
        last_t = -1.0
        stopped_early = False
        pending: deque[tuple[Future[NDArray[np.uint8]] | None, float, int]] = deque()
        submitted = [-1]  # the decode-order number of the last frame sent to the scaler

        def emit(frame: Any, t: float, seq: int) -> None:
            nonlocal collector
            if collector is None:
                rot = _rotation_of(frame)
                w, h = (src_h, src_w) if rot in (90, 270) else (src_w, src_h)
                collector = _Collector(_out_size(w, h, size), rot, on_frame, keep)
            # The frame's place in decode order says whether it was picked before; id()
            # would not: Python reuses the id of a freed frame for a new picture.
            job = None if seq == submitted[0] else scaler.submit(frame, *collector.convert_size)
            submitted[0] = seq
            pending.append((job, t, seq))
            settle(_Scaler.DEPTH)

        def settle(waiting: int) -> None:
            """Hand scaled frames to the collector, in order, until ``waiting`` are left."""
            while len(pending) > waiting:
                job, t, seq = pending.popleft()
                assert collector is not None
                collector.add(seq, t, _waiter(job))

        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                seq += 1
                t = float(frame.pts * stream.time_base) - t0
                last_t = max(last_t, t)
                if progress is not None and span_end:
                    progress(min(1.0, max(0.0, (t - start) / max(span_end - start, 1e-9))))
                if targets is None:
                    if t < start - 1e-6:
                        continue
                    if end is not None and t >= end:
                        stopped_early = True
                        break
                    emit(frame, t, seq)
                    continue
                while target is not None and t >= target:
                    if prev is not None and abs(prev[1] - target) <= abs(t - target) + _TIE:
                        emit(*prev)
                    else:
                        emit(frame, t, seq)
                    target = next(targets, None)
                if target is None:
                    stopped_early = True
                    break
                prev = (frame, t, seq)
        except av.error.FFmpegError as exc:
            settle(0)
            got = collector.clip(out_fps, p, {}) if collector else None
            raise VideoError(
                p,
                f"decoding failed after {max(last_t, 0):.2f} s ({exc}); the file is corrupt or truncated",
                partial=got,
            ) from None
        # Wanted times past the last frame but still inside the span take the last frame.
        if target is not None and prev is not None:
            limit = span_end if span_end is not None else prev[1] + 1.0 / src_fps
            while target is not None and target < limit and target - prev[1] < 2.0 / src_fps:
                emit(*prev)
                target = next(targets, None) if targets is not None else None
        settle(0)
        if collector is None or not collector.count:
            until = f"{span_end:g} s" if span_end is not None else "the end"
            raise VideoError(p, f"no frames could be decoded between {start:g} s and {until}")
        meta = {
            "backend": "pyav",
            "source_fps": src_fps,
            "source_size": (src_w, src_h),
            "exact": exact,
            "deblock": deblock,
        }
        clip = collector.clip(out_fps, p, meta)
        if (
            not stopped_early
            and duration
            and last_t + 2.0 / src_fps < duration * 0.9
            and duration - last_t > 0.5
        ):
            raise VideoError(
                p,
                f"the video stops at {last_t:.2f} s but says it lasts {duration:.2f} s; "
                "the file is truncated (the frames that could be read are in .partial)",
                partial=clip,
            )
        if progress is not None:
            progress(1.0)
        return clip


def _already_sized(frame: NDArray[np.uint8]) -> Callable[[int, int], NDArray[np.uint8]]:
    """A converter for frames that decord has already scaled."""
    return lambda _w, _h: frame


def _decord_reader(
    decord: Any, p: Path, size: tuple[int, int], src: tuple[int, int], rot: int
) -> tuple[Any, tuple[int, int]]:
    """A decord reader and the size it decodes at: ``size`` when decord's scaler can give
    it, else the smallest multiple of it that works (resized to ``size`` afterwards).

    decord 0.6 fails some output sizes ("DECORDArrayCopyFromTo: The size must exactly
    match", e.g. 8x5 or 16x9 of a 568x320 clip), so one frame is read to find out.
    """
    sw, sh = (src[1], src[0]) if rot in (90, 270) else src
    w, h = size
    tried = []
    for k in (1, 2, 3, 4, 6, 8):
        dw, dh = (min(w * k, sw), min(h * k, sh)) if k > 1 else (w, h)
        if (dw, dh) in tried:
            continue
        tried.append((dw, dh))
        reader = decord.VideoReader(str(p), ctx=decord.cpu(0), width=dw, height=dh, num_threads=2)
        try:
            shape = reader.get_batch([0]).asnumpy().shape
        except decord.DECORDError:
            del reader
            continue
        if shape[1:3] == (dh, dw):
            reader.seek(0)
            return reader, (dw, dh)
        del reader
    reader = decord.VideoReader(str(p), ctx=decord.cpu(0), num_threads=2)
    return reader, (sw, sh)


def _sample_decord(
    p: Path,
    fps: float | None,
    frames: int | None,
    start: float,
    end: float | None,
    size: SizeRule,
    progress: Progress | None,
    on_frame: Callable[[NDArray[np.uint8]], None] | None = None,
    *,
    keep: bool = True,
) -> Clip:
    try:
        import decord
    except ImportError:
        raise OptionError(
            "backend='decord' needs decord: pip install 'pixelnb[decord]' (or use backend='pyav')"
        ) from None
    info = probe(p)  # PyAV reads the rotation tag and validates the file
    rot = info.rotation
    out_w, out_h = _out_size(info.width, info.height, size)
    try:
        if rot:
            # Some decord builds turn the picture themselves and some do not: ask one frame.
            first = decord.VideoReader(str(p), ctx=decord.cpu(0))[0].shape
            if (first[1], first[0]) == (info.width, info.height):
                rot = 0
        w, h = (out_h, out_w) if rot in (90, 270) else (out_w, out_h)
        reader, (dw, dh) = _decord_reader(decord, p, (w, h), (info.width, info.height), rot)
    except Exception as exc:  # decord raises its own DECORDError for every failure
        raise VideoError(p, f"decord cannot read it ({exc})") from None
    shrink = (dw, dh) != (w, h)
    try:
        n = len(reader)
        ts = np.asarray(reader.get_frame_timestamp(np.arange(n)))[:, 0].astype(np.float64)
        ts = ts - ts.min() if n else ts
        src_fps = float(reader.get_avg_fps()) or 25.0
        span_end = end if end is not None else (info.duration or (ts[-1] + 1.0 / src_fps if n else 0.0))
        targets = _targets(fps, frames, start, span_end)
        if targets is None:
            hi = end if end is not None else np.inf
            picks = np.nonzero((ts >= start - 1e-6) & (ts < hi))[0]
            times = ts[picks]
        else:
            wanted = np.fromiter(targets, dtype=np.float64)
            last = ts[-1] if n else 0.0
            limit = span_end if span_end is not None else last + 1.0 / src_fps
            wanted = wanted[(wanted < limit) & (wanted - last < 2.0 / src_fps)]
            right = np.clip(np.searchsorted(ts, wanted, side="left"), 0, n - 1)
            left = np.clip(right - 1, 0, n - 1)
            use_left = np.abs(ts[left] - wanted) <= np.abs(ts[right] - wanted) + _TIE
            picks = np.where(use_left, left, right)
            times = ts[picks]
        if len(picks) == 0:
            raise VideoError(p, f"no frames could be decoded between {start:g} s and {span_end}")
        collector = _Collector((out_w, out_h), rot, on_frame, keep)
        for i in range(0, len(picks), _CHUNK):
            chunk = picks[i : i + _CHUNK]
            uniq = np.unique(chunk)
            batch = reader.get_batch(list(uniq)).asnumpy()
            if shrink:
                from pixelnb.resize import resize_frames

                batch = resize_frames(batch, (w, h), "area")
            lookup = {int(u): batch[j] for j, u in enumerate(uniq)}
            for idx, t in zip(chunk, times[i : i + _CHUNK], strict=True):
                collector.add(int(idx), float(t), _already_sized(lookup[int(idx)]))
            if progress is not None:
                progress(min(1.0, (i + len(chunk)) / len(picks)))
    finally:
        del reader
    out_fps = _out_fps(fps, frames, start, span_end, src_fps)
    meta = {
        "backend": "decord",
        "source_fps": src_fps,
        "source_size": (info.width, info.height),
        "exact": True,
    }
    return collector.clip(out_fps, p, meta)
