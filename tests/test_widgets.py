"""The widgets' Python side: state, fallbacks, and the Studio driven without a browser."""

import asyncio
import base64
import datetime
import io
import json
import zlib

import numpy as np
import pytest

from conftest import TEST_KEY
from pixelnb import Palette, Sprite, pixelate
from pixelnb.data import sample_clip
from pixelnb.errors import AuthError, JobCancelled, OptionError
from pixelnb.luma import PollPolicy
from pixelnb.store import JobStore
from pixelnb.widgets import FrameGrid, Player, Studio
from pixelnb.widgets.keyfield import KeyField


@pytest.fixture(scope="module")
def sprite() -> Sprite:
    return pixelate(sample_clip(), size=64, colors=16, fps=12, end=4.0)


def test_player_state_is_indices_and_palette_not_images(sprite):
    p = Player(sprite)
    state = p.get_state()
    assert state["encoding"] == "deflate"
    assert zlib.decompress(state["indices"]) == sprite.indices.tobytes()
    assert state["palette"] == sprite.palette.colors.tobytes()
    assert (state["width"], state["height"], state["n_frames"], state["fps"]) == (64, 36, 48, 12.0)
    size = sum(len(v) if isinstance(v, (bytes, str)) else len(json.dumps(v)) for v in state.values())
    assert size < 40_000, f"a 48-frame 64x36 animation costs {size} bytes of state"


def test_player_is_displayed_with_a_fallback_output_of_its_animation(sprite, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: shown.append((data, kw)) or Handle())
    Player(sprite)._ipython_display_()
    (view, _), (fallback, kw) = shown
    assert "application/vnd.jupyter.widget-view+json" in view and "text/html" not in view
    assert kw.get("display_id") is True  # updated when the picture changes
    html = fallback["text/html"]
    assert 'class="pixelnb-fallback"' in html and "<style>" in html
    gif = base64.b64decode(html.split("data:image/gif;base64,")[1].split('"')[0])
    assert gif[:6] == b"GIF89a" and fallback["image/png"][:4] == b"\x89PNG"
    from PIL import Image

    assert Image.open(io.BytesIO(gif)).n_frames == len(sprite)  # the animation, not one frame


def test_a_frame_grid_falls_back_to_a_contact_sheet(sprite):
    html = FrameGrid(sprite).fallback()["text/html"]
    assert "data:image/png;base64," in html and "image/gif" not in html


class Handle:
    def __init__(self):
        self.updates = []

    def update(self, data, **kw):
        self.updates.append(data)


def test_player_follows_a_new_sprite(sprite):
    p = Player()
    assert p.n_frames == 0 and p._fallback_bundle() == {}
    p.sprite = sprite
    assert p.n_frames == 48 and p.zoom >= 1


def test_frame_grid_appends_live(sprite):
    g = FrameGrid(title="live")
    for frame in sprite.to_rgb()[:5]:
        g.append(frame)
    g.flush()
    assert g.n_frames == 5 and g.data == b""  # sent as messages, not re-sent as state
    g.finish()
    assert g.encoding == "jpeg" and g.frames().shape == (5, 36, 64, 3)
    assert np.abs(g.frames().astype(int) - sprite.to_rgb()[:5].astype(int)).mean() < 8  # a JPEG of them
    with pytest.raises(OptionError, match="cannot join"):
        g.append(np.zeros((10, 10, 3), np.uint8))
    g.set(sprite)
    assert g.n_frames == 48 and g.encoding == "indexed"
    assert np.array_equal(g.frames(), sprite.to_rgb())  # pixel art is kept exactly


def test_key_field_never_syncs_the_key():
    got = []
    field = KeyField(got.append)
    field._handle(field, {"kind": "api-key", "value": " luma-secret-123 "}, [])
    assert got == ["luma-secret-123"]
    assert "luma-secret-123" not in json.dumps(field.get_state(), default=str)
    assert field.status == "key set (kept in this kernel only)" and not field.asking
    field.ask("Luma refused that key")
    assert field.asking and "refused" in field.status


@pytest.fixture
def studio(make_manager, tmp_path, monkeypatch):
    monkeypatch.delenv("LUMAAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    manager = make_manager(key=None, poll=PollPolicy(0.02, 0.05), client_kw={"timeout": 30})
    s = Studio(manager, out_dir=tmp_path / "exports")
    yield s
    s.close()


def run_on_loop(coro):
    return asyncio.run(coro)


def test_studio_asks_for_a_key_and_generates(studio, fake):
    assert studio.key_field.asking

    async def go():
        studio.key_field._handle(studio.key_field, {"kind": "api-key", "value": TEST_KEY}, [])
        studio.prompt.value = "a cute pixel art cat walking"
        studio.size.value, studio.colors.value, studio.fps.value = 32, 8, 6
        job = studio.generate()
        assert job is not None
        return await job

    sprite = run_on_loop(go())
    assert not studio.key_field.asking
    assert studio.player.n_frames == len(sprite) and studio.pixel_grid.n_frames == len(sprite)
    assert studio.source_view.n_frames >= len(sprite)  # filled live while sampling
    (row,) = studio.job_table.rows
    assert row["state"] == "completed" and studio.job_table.selected == row["id"]
    assert f"Complete! {len(sprite)} pixel-art frames" in studio.done_line.value
    for child in studio.children:  # the key is in no widget's state
        assert TEST_KEY not in json.dumps(getattr(child, "get_state", dict)(), default=str)
    assert fake.creates == 1


def test_a_double_click_on_generate_pays_once(studio, fake):
    fill(studio, "a cat clicked twice")

    async def go():
        first = studio.generate()  # the two click messages reach the kernel one after another
        second = studio.generate()
        assert first is second
        return await first

    run_on_loop(go())
    assert fake.creates == 1


def test_studio_shows_typed_errors(studio):
    studio.prompt.value = "ab"
    assert studio.generate() is None
    assert "RequestError" in studio.error.value and "What to do" in studio.error.value


def test_studio_converts_a_file_and_exports(studio, tmp_path):
    studio.path.value = str(sample_clip())
    studio.size.value, studio.fps.value = 24, 4
    studio.convert()  # no loop running: converts at once
    assert studio.sprite is not None and studio.player.n_frames == len(studio.sprite)
    gif = studio.export("gif")
    sheet = studio.export("png")
    frames = studio.export("zip")
    assert gif.suffix == ".gif" and sheet.with_suffix(".json").is_file() and frames.suffix == ".zip"
    assert [f["name"] for f in studio.downloads.files] == [frames.name]
    assert sorted(p.name for p in frames.parent.iterdir()) == sorted(
        [gif.name, sheet.name, sheet.with_suffix(".json").name, frames.name]
    )  # no folder left
    import zipfile

    assert len(zipfile.ZipFile(frames).namelist()) == len(studio.sprite)


def test_studio_reports_a_missing_video(studio):
    studio.path.value = "no/such/video.mp4"
    studio.convert()
    assert "VideoError" in studio.error.value and "no such file" in studio.error.value


def test_studio_reattaches_to_unfinished_jobs(fake, tmp_path, make_manager):
    fake.dream_seconds = 0.5
    store = JobStore(tmp_path / "jobs.sqlite3")
    # The old kernel is in this process: its leases expire rather than die with its pid.
    first = make_manager(store, poll=PollPolicy(0.02, 0.05), lease_seconds=0.6, client_kw={"timeout": 30})
    from pixelnb.jobs import generate

    job = generate("an unfinished owl", manager=first, pixel={"size": 16})
    first._bg_loop.call_soon_threadsafe(first._bg_loop.stop)  # the old kernel goes away

    async def go():
        manager = make_manager(store, poll=PollPolicy(0.02, 0.05), client_kw={"timeout": 30})
        s = Studio(manager, out_dir=tmp_path / "x")
        return await s.jobs[job.id]

    assert isinstance(run_on_loop(go()), Sprite)
    assert fake.creates <= 1


def test_palette_swatches_follow_the_choice(studio):
    studio.palette.value = "gameboy"
    assert all(h in studio.swatches.value for h in Palette.preset("gameboy").hex)


def test_exports_need_a_result(studio):
    assert studio.export("gif") is None and "nothing to export" in studio.error.value


def test_fallback_updates_displayed_copies(sprite):
    handle = Handle()
    p = Player()
    p._handles = [handle]
    p.sprite = sprite
    assert handle.updates and "data:image/gif" in handle.updates[-1]["text/html"]


def test_sprite_frames_reach_the_grid_from_a_path(tmp_path):
    seen = []
    s = pixelate(sample_clip(), size=16, fps=2, on_frame=seen.append)
    assert len(seen) == len(s) and seen[0].shape == (9, 16, 3)
    # The live grid shows those very frames: a FrameGrid filled from them has one per frame.
    grid = FrameGrid()
    for frame in seen:
        grid.append(frame)
    grid.flush()
    assert grid.n_frames == len(s)


def fill(studio, prompt: str) -> None:
    """The key given in the password box, a prompt and small pixel options."""
    studio.key_field._handle(studio.key_field, {"kind": "api-key", "value": TEST_KEY}, [])
    studio.prompt.value = prompt
    studio.size.value, studio.colors.value, studio.fps.value = 24, 6, 4


def test_the_studio_lets_go_of_finished_jobs_and_of_all_when_closed(studio, fake):
    fill(studio, "a cat that finishes")
    fake.dream_seconds = 30

    async def go():
        job = studio.generate()
        assert studio._on_change in job._callbacks and len(job._frame_listeners) == 1
        return job

    job = run_on_loop(go())
    studio.close()
    assert studio._on_change not in job._callbacks and job._frame_listeners == []
    job.cancel()


def test_on_frame_returns_an_unsubscribe_handle(manager):
    from pixelnb.jobs import generate

    job = generate("a frame watcher", manager=manager, pixel={"size": 24, "colors": 6, "fps": 4})
    stop = job.on_frame(lambda f: None)
    assert len(job._frame_listeners) == 1
    stop()
    assert job._frame_listeners == []
    job.result(30)


def test_running_the_studio_cell_again_unsubscribes_the_old_studio(studio, fake):
    fill(studio, "a cat in a re-run cell")
    fake.dream_seconds = 30

    async def go():
        job = studio.generate()
        again = Studio(studio.manager, out_dir=studio.out_dir)  # the cell, run again
        assert studio._on_change not in job._callbacks, "the old Studio still follows the job"
        assert again.jobs[job.id] is job
        assert again.job_table.selected == job.id and again._selected == job.id  # the current job
        again.close()
        job.cancel()

    run_on_loop(go())


def test_the_resume_button_carries_on_a_job_that_stopped(studio, fake):
    fill(studio, "a cat that waits for the network")
    fake.dream_seconds = 0.3

    async def go():
        job = studio.generate()
        await job
        # The job ended the way an outage past the poll deadline ends one.
        studio.manager.store.set_state(
            job.id, "failed", "LumaUnavailable", error="Luma was unreachable", error_type="LumaUnavailable"
        )
        studio.manager.store.update(job.id, video_path=None, video_sha256=None)
        studio.manager._jobs.pop(job.id, None)
        resumed = studio.resume()
        assert [j.id for j in resumed] == [job.id] and studio.job_table.selected == job.id
        return await resumed[0]

    run_on_loop(go())
    assert fake.creates == 1  # carried on from the same generation
    assert studio.job_table.rows[0]["state"] == "completed"


def test_the_convert_tab_looks_for_a_grid_only_when_asked(studio):
    studio.path.value = str(sample_clip())
    studio.size.value, studio.fps.value = 24, 4
    studio.convert()
    assert "grid" not in studio.sprite.info  # decoded small, no grid search
    assert max(studio.source_view.width, studio.source_view.height) <= 96
    studio.find_grid.value = "on"
    studio.convert()
    assert "no grid" in studio.sprite.info["grid"]


def test_the_convert_tab_finds_the_grid_of_a_video_that_looks_like_pixel_art(studio, tmp_path):
    from media import encode

    rng = np.random.default_rng(3)
    art = rng.integers(0, 4, (24, 32)).astype(np.uint8)  # a 32x24 sprite of 4 colours
    colours = np.array([[20, 20, 40], [200, 60, 60], [240, 220, 120], [60, 160, 80]], np.uint8)
    big = colours[art].repeat(10, 0).repeat(10, 1)  # cells of 10 px: 320x240
    clip = encode(tmp_path / "art.mp4", lambda i: np.roll(big, 10 * (i % 3), axis=1), count=12, fps=12)
    studio.path.value = str(clip)
    studio.size.value, studio.fps.value = 32, 4
    assert studio.find_grid.value == "detect"  # the default
    studio.convert()
    assert studio.sprite.info["downscale"] == "grid" and "looks like pixel art" in studio.stage.value
    studio.path.value = str(sample_clip())
    studio.convert()  # real footage: decoded small, no search
    assert "grid" not in studio.sprite.info


def test_live_frames_travel_as_messages_with_linear_traffic(sprite, monkeypatch):
    g = FrameGrid(title="live")
    sent = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: sent.append(sum(map(len, buffers or []))))
    for frame in sprite.to_rgb()[:10]:
        g.append(frame)
    g.flush()
    one = 36 * 64 * 3
    assert sum(sent) == 10 * one, "each frame is sent once"
    assert all(n % one == 0 for n in sent) and len(sent) <= 10  # in batches of whole frames
    assert g.data == b""


def test_a_zoom_the_caller_gives_is_kept(sprite):
    assert Player(sprite, zoom=1).zoom == 1
    assert Player(sprite).zoom == 4  # 64 px wide: 256 // 64


def test_generate_before_a_key_says_enter_it_above(studio, fake):
    studio.prompt.value = "a cat"
    assert studio.generate() is None
    assert "enter your Luma API key in the box above" in studio.error.value
    assert "LUMAAI_API_KEY" not in studio.error.value and studio.key_field.asking
    assert fake.creates == 0


def test_a_refused_key_brings_the_key_box_back(studio, fake):
    studio.key_field._handle(studio.key_field, {"kind": "api-key", "value": "luma-wrong-key-000"}, [])
    assert not studio.key_field.asking
    fill_options(studio, "a cat")

    async def go():
        job = studio.generate()
        with pytest.raises(AuthError):
            await job

    run_on_loop(go())
    assert studio.key_field.asking and "refused" in studio.key_field.status
    assert "AuthError" in studio.error.value and fake.creates == 0


def test_the_generate_button_is_one_click_until_the_job_exists(studio, fake):
    fill(studio, "a cat clicked in the browser")
    sent = []
    studio.generate_button.send = lambda content, buffers=None: sent.append(content)

    async def go():
        studio.generate_button._handle(studio.generate_button, {"type": "click"}, [])
        assert sent == [{"type": "done"}]  # the browser enables it again only now
        (job_id,) = studio.jobs
        assert studio.job_table.selected == job_id  # and the new job is selected
        return await studio.jobs[job_id]

    run_on_loop(go())
    assert fake.creates == 1


def test_cancel_in_the_studio_says_what_happened_at_luma(studio, fake):
    fill(studio, "a slow cat")
    fake.dream_seconds = 30

    async def go():
        job = studio.generate()
        while job.state != "dreaming":
            await asyncio.sleep(0.01)
        studio.cancel()
        with pytest.raises(JobCancelled):
            await job
        return job

    job = run_on_loop(go())
    assert "deleted at Luma" in studio.stage.value and studio.progress.value < 1
    assert studio.progress.bar_style == "warning"
    assert 'class="pixelnb-step stopped" data-step="dreaming"' in studio.timeline.value
    assert job.state == "cancelled"


def test_a_rerun_says_reused_no_new_generation(studio, fake):
    fill(studio, "a cat seen twice")

    async def go():
        await studio.generate()
        studio.colors.value = 4  # new pixels, same video
        again = studio.generate()
        await again
        return again

    again = run_on_loop(go())
    assert again.reused and fake.creates == 1
    assert "reused — no new generation" in studio.job_table.rows[0]["stage"]


def test_the_last_chosen_source_wins_and_the_old_result_clears(studio, tmp_path):
    from media import encode, moving_square

    studio.size.value, studio.fps.value = 16, 4
    other = encode(tmp_path / "o.mp4", moving_square, count=10).read_bytes()
    studio.upload.value = uploaded("other.mp4", other)
    studio.path.value = str(sample_clip())  # typed after the upload: the typed path wins
    studio.convert()
    assert studio.sprite.source == str(sample_clip())
    studio.export("gif")
    assert studio.downloads.files
    studio.upload.value = uploaded("other.mp4", other)
    studio.convert()  # chosen last: the upload
    assert studio.sprite.source.endswith("other.mp4") and studio.upload.value == ()  # no bytes kept in state
    studio.path.value = "no/such/video.mp4"
    studio.convert()
    assert studio.sprite is None and studio.player.n_frames == 0 and studio.downloads.files == []
    assert studio.done_line.value == "" and "VideoError" in studio.error.value


def test_an_fps_above_the_clips_is_said_in_the_studio(studio, tmp_path):
    from media import encode, moving_square

    studio.path.value = str(encode(tmp_path / "ten.mp4", moving_square, count=20, fps=10))
    studio.size.value, studio.fps.value = 16, 12
    studio.convert()
    assert len(studio.sprite) == 20 and "the video has 10 fps" in studio.done_line.value


def test_jobs_are_one_table_with_whole_prompts_for_the_hover(studio, fake):
    long = "a very long prompt about a cat walking through a garden full of flowers at dusk " * 2
    fill(studio, long.strip())

    async def go():
        await studio.generate()

    run_on_loop(go())
    (row,) = studio.job_table.rows
    assert row["prompt"] == long.strip() and row["stage"] == "done"
    assert not any(isinstance(c, __import__("ipywidgets").Select) for c in studio.children)


def test_downloads_send_the_file_bytes_only_when_clicked(tmp_path):
    from pixelnb.widgets.controls import Downloads

    f = tmp_path / "a.gif"
    f.write_bytes(b"GIF89a-bytes")
    d = Downloads()
    d.offer([f])
    assert "GIF89a" not in json.dumps(d.get_state(), default=str)
    sent = []
    d.send = lambda content, buffers=None: sent.append((content, buffers))
    d._handle(d, {"type": "get", "name": "a.gif"}, [])
    assert sent == [({"type": "file", "name": "a.gif", "mime": "image/gif"}, [b"GIF89a-bytes"])]


def fill_options(studio, prompt: str) -> None:
    studio.prompt.value = prompt
    studio.size.value, studio.colors.value, studio.fps.value = 24, 6, 4


def uploaded(name: str, data: bytes) -> tuple[dict, ...]:
    """A FileUpload value, as the browser sends one file."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return ({"name": name, "type": "video/mp4", "size": len(data), "content": data, "last_modified": now},)
