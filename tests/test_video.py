import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from media import encode, moving_square
from pixelnb.errors import OptionError, VideoError
from pixelnb.video import Clip, fit_size, probe, sample


def all_pts(path: Path) -> np.ndarray:
    """Every frame's presentation time, read with plain PyAV."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        t0 = float(s.start_time * s.time_base) if s.start_time else 0.0
        return np.sort([float(f.pts * s.time_base) - t0 for f in c.decode(s)])


def test_sample_at_a_rate_picks_the_nearest_frames(bunny):
    clip = sample(bunny, fps=5, size=32)
    assert isinstance(clip, Clip)
    assert clip.frames.shape == (27, 18, 32, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 5
    np.testing.assert_allclose(clip.timestamps, np.arange(27) * 0.2, atol=0.021)


def test_sample_without_rate_returns_every_frame(bunny):
    clip = sample(bunny, size=48)
    assert len(clip) == 132 and clip.fps == 25
    np.testing.assert_allclose(clip.timestamps, all_pts(bunny), atol=1e-9)


def test_frames_spreads_evenly_over_the_span(bunny):
    clip = sample(bunny, frames=4, start=1.0, end=3.0, size=16)
    np.testing.assert_allclose(clip.timestamps, [1.0, 1.5, 2.0, 2.5], atol=0.021)


def test_frames_caps_a_rate(bunny):
    assert len(sample(bunny, fps=10, frames=7, size=16)) == 7


def test_start_and_end_bound_the_span(bunny):
    clip = sample(bunny, fps=10, start=2.0, end=3.0, size=16)
    assert len(clip) == 10
    assert clip.timestamps[0] == pytest.approx(2.0, abs=0.021)
    assert clip.timestamps[-1] == pytest.approx(2.9, abs=0.021)


def test_size_keeps_the_aspect_or_takes_an_exact_pair():
    assert fit_size(1280, 720, 64) == (64, 36)
    assert fit_size(720, 1280, 64) == (36, 64)
    assert fit_size(1280, 720, (40, 40)) == (40, 40)


@pytest.mark.parametrize(
    ("size", "match"),
    [
        (0, "at least 1"),
        (2000, "larger than the source"),
        ((0, 10), "at least 1x1"),
        ((10, 800), "larger than"),
        ("big", "whole number"),
    ],
)
def test_bad_sizes_are_refused(bunny, size, match):
    with pytest.raises(OptionError, match=match):
        sample(bunny, size=size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps": 0}, "fps"),
        ({"frames": 0}, "frames"),
        ({"start": 2, "end": 1}, "after start"),
        ({"backend": "opencv"}, "pyav, decord"),
    ],
)
def test_bad_options_are_refused(bunny, kwargs, match):
    with pytest.raises(OptionError, match=match):
        sample(bunny, **kwargs)


def test_frames_are_downscaled_by_area_averaging(square_clip):
    full = sample(square_clip, frames=1)
    small = sample(square_clip, frames=1, size=(48, 32))
    # Area averaging of 2x2 blocks, within what the scaler's rounding allows.
    expected = full.frames[0].reshape(32, 2, 48, 2, 3).mean(axis=(1, 3))
    assert np.abs(small.frames[0].astype(float) - expected).mean() < 2.0


def test_variable_frame_rate_picks_by_timestamp(phone_vfr):
    pts = all_pts(phone_vfr)
    assert np.ptp(np.diff(pts)) > 0.01, "the phone clip should really have a variable rate"
    clip = sample(phone_vfr, fps=12, size=64)
    wanted = np.arange(len(clip)) / 12
    nearest = pts[np.abs(pts[None, :] - wanted[:, None]).argmin(axis=1)]
    np.testing.assert_allclose(clip.timestamps, nearest, atol=1e-6)


def test_rotation_tag_is_applied(rotated_clip):
    info = probe(rotated_clip)
    assert info.rotation == 90 and (info.width, info.height) == (64, 96)
    clip = sample(rotated_clip, size=48)
    assert clip.frames.shape[1:] == (48, 32, 3)
    # The band stored on the left edge shows at the bottom, as players show it.
    assert clip.frames[0, -8:].mean() > 200 and clip.frames[0, :8].mean() < 60


@pytest.mark.parametrize("name", ["bunny", "phone_vfr", "rotated_clip"])
def test_decord_and_pyav_pick_the_same_frames(name, request):
    path = request.getfixturevalue(name)
    a = sample(path, fps=7, size=64, backend="pyav")
    b = sample(path, fps=7, size=64, backend="decord")
    assert a.frames.shape == b.frames.shape
    np.testing.assert_allclose(a.timestamps, b.timestamps, atol=2e-3)
    diff = np.abs(a.frames.astype(int) - b.frames.astype(int))
    # Both decode the same H.264 frames; only their scalers and colour rounding differ.
    assert diff.mean() < 4.0, diff.mean()
    assert a.meta["backend"] == "pyav" and b.meta["backend"] == "decord"


def test_fast_mode_stays_within_one_source_frame(bunny):
    exact = sample(bunny, fps=6, size=32)
    fast = sample(bunny, fps=6, size=32, exact=False)
    assert len(fast) == len(exact)
    assert np.max(np.abs(fast.timestamps - exact.timestamps)) <= 1 / 25 + 1e-6


# -- bad files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="no such file") as err:
        sample(tmp_path / "nope.mp4")
    assert err.value.path.endswith("nope.mp4")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        sample(tmp_path / "empty.mp4")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(VideoError, match="folder"):
        sample(tmp_path)


def test_not_a_video(tmp_path):
    f = tmp_path / "notes.mp4"
    f.write_text("these are not the frames you are looking for\n" * 50)
    with pytest.raises(VideoError, match=r"notes\.mp4: not a readable video"):
        sample(f)


def test_audio_only(tmp_path):
    f = tmp_path / "tone.wav"
    with wave.open(str(f), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    with pytest.raises(VideoError, match=r"no video stream.*audio"):
        sample(f)


def test_truncated_without_index(tmp_path, square_clip):
    data = square_clip.read_bytes()
    f = tmp_path / "cut.mp4"
    f.write_bytes(data[: len(data) // 2])  # the index (moov) sat at the end and is gone
    with pytest.raises(VideoError, match="corrupt or truncated"):
        sample(f)


def test_truncated_with_index_keeps_the_frames_it_read(tmp_path):
    whole = encode(tmp_path / "fast.mp4", moving_square, count=100, faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="truncated") as err:
        sample(cut, fps=10, size=32)
    partial = err.value.partial
    assert partial is not None and 3 <= len(partial) < 40
    assert partial.frames.shape[1:] == (21, 32, 3)


def test_no_frames_in_the_span(bunny):
    with pytest.raises(VideoError, match="no frames"):
        sample(bunny, fps=5, start=30.0, end=40.0)


def test_absurd_size(tmp_path):
    f = tmp_path / "huge.y4m"
    f.write_bytes(b"YUV4MPEG2 W9000 H8000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 1000)
    with pytest.raises(VideoError, match="absurd size 9000x8000"):
        sample(f)


def test_decord_backend_reports_bad_files_the_same_way(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        sample(tmp_path / "nope.mp4", backend="decord")


# -- memory ------------------------------------------------------------------------------------


def test_a_1080p_clip_is_never_held_at_full_size(tmp_path):
    base = np.zeros((1080, 1920, 3), np.uint8)
    base[..., 0] = np.arange(1920) // 8
    base[..., 1] = (np.arange(1080) // 5)[:, None]

    def frame(i: int) -> np.ndarray:
        a = base.copy()
        a[400:600, (i * 7) % 1800 : (i * 7) % 1800 + 120] = (200, 40, 40)
        return a

    path = encode(tmp_path / "big.mp4", frame, count=250, fps=25, crf=35)  # 10 s of 1080p
    # VmHWM is this process's own peak (ru_maxrss would include what the parent held at fork).
    code = (
        "import re, sys, pixelnb\n"
        "c = pixelnb.sample(sys.argv[1], fps=12, size=64)\n"
        "assert len(c) == 120, len(c)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    peak_mb = int(out.stdout.strip())
    # 250 full-size RGB frames alone would take 1.5 GB.
    assert peak_mb < 250, f"peak RSS {peak_mb} MB"


def test_frames_reach_on_frame_on_the_calling_thread_in_order(bunny):
    """Scaling runs on a worker thread beside the decoder; the caller's callback does not."""
    import threading

    seen: list[tuple[int, bytes]] = []
    clip = sample(
        bunny, fps=10, size=32, on_frame=lambda f: seen.append((threading.get_ident(), f.tobytes()))
    )
    assert {ident for ident, _ in seen} == {threading.get_ident()}
    assert [data for _, data in seen] == [f.tobytes() for f in clip.frames]


def test_an_error_in_on_frame_stops_sampling_and_leaves_no_thread(bunny):
    import threading

    before = threading.active_count()
    calls = []

    def fail(frame: np.ndarray) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        sample(bunny, fps=10, size=32, on_frame=fail)
    assert len(calls) == 3
    assert threading.active_count() == before


def test_fast_mode_says_whether_it_deblocked(bunny):
    """480x270 to 64 px is a 7.5x shrink: the fast decode skips H.264's loop filter; exact
    decoding and a 2x shrink never do."""
    assert sample(bunny, fps=5, size=64, exact=False).meta["deblock"] is False
    assert sample(bunny, fps=5, size=64).meta["deblock"] is True
    assert sample(bunny, fps=5, size=240, exact=False).meta["deblock"] is True
