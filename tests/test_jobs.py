import asyncio
import logging
import threading
from pathlib import Path

import pytest

from conftest import TEST_KEY, encode, moving_square
from pixelnb import Sprite
from pixelnb.errors import (
    AuthError,
    JobCancelled,
    LumaUnavailable,
    ModerationError,
    OptionError,
    PaletteError,
    RequestError,
    VideoError,
)
from pixelnb.jobs import JobManager, PixelOptions, generate
from pixelnb.luma import PollPolicy

PIXEL = {"size": 24, "colors": 6, "fps": 4}
FLOW = ["pending", "queued", "dreaming", "downloading", "sampling", "pixelating", "completed"]


def reached(job, state: str) -> threading.Event:
    """An event set once the job is (or has been) in ``state``."""
    ev = threading.Event()
    job.on_change(lambda j: ev.set() if j.state == state else None)
    if job.state == state or any(h[0] == state for h in job.history):
        ev.set()
    return ev


def states(job) -> list[str]:
    out: list[str] = []
    for s, _, _ in job.history:
        if not out or out[-1] != s:
            out.append(s)
    return out


def test_generate_returns_at_once_and_ends_with_a_sprite(manager, fake):
    job = generate("a cute pixel art cat walking", manager=manager, pixel=PIXEL)
    # It comes back before anything is decided: pending, recorded, not yet done.
    assert job.state == "pending" and not job.done() and manager.store.get(job.id) is not None
    sprite = job.result(timeout=30)
    assert isinstance(sprite, Sprite) and sprite.width == 24 and len(sprite.palette) <= 6
    assert job.state == "completed" and states(job) == FLOW
    assert job.progress.fraction == 1.0 and job.luma_id in fake.generations
    assert fake.creates == 1


def test_await_on_the_running_loop(manager):
    async def go():
        job = generate("a dog running", manager=manager, pixel=PIXEL)
        assert job._loop is asyncio.get_running_loop()  # runs on the caller's loop
        return await job

    assert isinstance(asyncio.run(go()), Sprite)


def test_result_blocks_inside_a_running_loop(manager):
    async def go():
        job = generate("a bird flying", manager=manager, pixel=PIXEL)
        return job.result(timeout=30)  # nest-asyncio lets the loop run the job meanwhile

    assert isinstance(asyncio.run(go()), Sprite)


def test_events_and_callbacks_follow_every_state(manager):
    seen: list[str] = []

    async def go():
        job = generate("a frog jumping", manager=manager, pixel=PIXEL)
        job.on_change(lambda j: seen.append(j.state))
        events = [ev async for ev in job.events()]
        return job, events

    _, events = asyncio.run(go())
    ev_states = [e.state for e in events]
    assert ev_states[-1] == "completed"
    in_order = [s for i, s in enumerate(ev_states) if i == 0 or ev_states[i - 1] != s]
    assert in_order == [s for s in FLOW if s in ev_states], "events came out of the documented order"
    fractions = [e.progress.fraction for e in events]
    assert fractions == sorted(fractions), "progress never goes backwards"
    assert "dreaming" in seen and seen[-1] == "completed"


def test_same_request_reuses_the_finished_video(manager, fake):
    first = generate("a knight", manager=manager, pixel=PIXEL).result(30)
    again = generate("a knight", manager=manager, pixel={**PIXEL, "colors": 4})
    sprite = again.result(30)
    assert fake.creates == 1, "a re-run must not pay again"
    assert "dreaming" not in states(again) and len(sprite.palette) <= 4
    assert sprite.width == first.width
    fresh = generate("a knight", manager=manager, pixel=PIXEL, fresh=True)
    fresh.result(30)
    assert fake.creates == 2


def test_a_restarted_kernel_resumes_without_a_new_generation(fake, tmp_path, make_manager):
    fake.dream_seconds = 1.0
    store_path = tmp_path / "jobs.sqlite3"

    def new_manager() -> JobManager:
        # The "kernel" that dies is in this process, so its leases are not freed by its
        # pid ending: they expire (a real restarted kernel's are free at once).
        return make_manager(
            store_path, poll=PollPolicy(0.02, 0.05), lease_seconds=0.6, client_kw={"timeout": 30}
        )

    first = new_manager()
    jobs = [generate(f"a ship {i}", manager=first, pixel=PIXEL) for i in range(3)]
    for j in jobs:
        assert reached(j, "dreaming").wait(10)
    # The "kernel" dies: its loop stops and nothing more happens in it.
    first._bg_loop.call_soon_threadsafe(first._bg_loop.stop)
    second = new_manager()
    resumed = second.resume()
    assert {j.id for j in resumed} == {j.id for j in jobs}
    for j in resumed:
        assert isinstance(j.result(30), Sprite)
    assert fake.creates == 3


def test_cancel(manager, fake):
    fake.dream_seconds = 30
    job = generate("a slow cloud", manager=manager, pixel=PIXEL)
    assert reached(job, "dreaming").wait(10)
    job.cancel()
    with pytest.raises(JobCancelled):
        job.result(5)
    assert job.state == "cancelled" and manager.store.get(job.id).state == "cancelled"


def test_refused_prompt_is_a_moderation_error(manager):
    job = generate("something forbidden here", manager=manager, pixel=PIXEL)
    with pytest.raises(ModerationError, match="moderation"):
        job.result(30)
    assert job.state == "failed" and isinstance(job.error, ModerationError)
    assert "reword the prompt" in str(job.error)


def test_wrong_key_fails_the_job_with_an_auth_error(fake, make_manager):
    m = make_manager(key="luma-not-the-right-key")
    job = generate("a cat", manager=m, pixel=PIXEL)
    with pytest.raises(AuthError, match="refused the API key"):
        job.result(30)
    assert fake.creates == 0


def test_unreachable_server(make_manager):
    m = make_manager(base_url="http://127.0.0.1:9/dream-machine/v1", client_kw={"retry_wait": 0.01})
    job = generate("a cat", manager=m, pixel=PIXEL)
    with pytest.raises(LumaUnavailable, match="could not connect"):
        job.result(30)
    assert "resume" in str(job.error)


def test_corrupt_downloaded_video_is_a_video_error(tmp_path, make_manager):
    from pixelnb.testing import FakeLuma

    with FakeLuma(
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 5000, api_key=TEST_KEY, queue_seconds=0, dream_seconds=0.05
    ) as fake:
        m = make_manager(base_url=fake.base_url)
        job = generate("a cat", manager=m, pixel=PIXEL)
        with pytest.raises(VideoError, match="not a readable video"):
            job.result(30)
        rec = m.store.get(job.id)
        assert rec.video_path and Path(rec.video_path).is_file(), "the paid video is kept"


def test_a_deadline_ends_with_a_resumable_error(fake, make_manager):
    fake.dream_seconds = 60
    m = make_manager(poll=PollPolicy(0.02, 0.05, deadline=0.3))
    job = generate("a long story", manager=m, pixel=PIXEL)
    with pytest.raises(LumaUnavailable, match="still dreaming"):
        job.result(30)
    fake.dream_seconds = 0
    resumed = m.resume()
    assert [j.id for j in resumed] == [job.id]
    assert isinstance(resumed[0].result(30), Sprite) and fake.creates == 1


def test_a_burst_of_submits_queues_instead_of_failing(manager, fake):
    jobs = [generate(f"a cat number {i}", manager=manager, pixel=PIXEL) for i in range(14)]
    for j in jobs:
        j.result(60)
    assert fake.creates == 14 and all(j.state == "completed" for j in jobs)
    assert fake.statuses[429] == 0, "the manager kept within Luma's 10 active generations"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"prompt": "ab"}, RequestError),
        ({"prompt": "a cat", "model": "ray-0"}, RequestError),
        ({"prompt": "a cat", "pixel": {"colors": 999}}, OptionError),
        ({"prompt": "a cat", "pixel": {"palette": "nope"}}, PaletteError),
        ({"prompt": "a cat", "pixel": {"sizes": 3}}, OptionError),
    ],
)
def test_bad_options_fail_at_submit_before_anything_is_paid(manager, fake, kwargs, error):
    with pytest.raises(error):
        generate(manager=manager, **kwargs)
    assert fake.creates == 0 and manager.store.all() == []


def test_pixel_options_round_trip():
    opts = PixelOptions.coerce({"size": [32, 24], "palette": ["#000000", "#ffffff"], "dither": "bayer4"})
    assert PixelOptions.from_json(opts.to_json()) == opts


def test_the_key_is_never_stored_logged_raised_or_shown(fake, tmp_path, caplog, make_manager):
    caplog.set_level(logging.DEBUG)
    m = make_manager(tmp_path / "j.sqlite3")
    fake.inject("500", on="get")
    good = generate("a cat with a hat", manager=m, pixel=PIXEL)
    bad = generate("forbidden cat", manager=m, pixel=PIXEL)
    good.result(30)
    with pytest.raises(ModerationError) as err:
        bad.result(30)
    wrong = make_manager(tmp_path / "j.sqlite3", key=TEST_KEY + "x")
    with pytest.raises(AuthError) as auth_err:
        generate("a cat", manager=wrong).result(30)
    texts = [
        caplog.text,
        str(err.value),
        repr(err.value),
        str(auth_err.value),
        repr(good),
        repr(bad),
        repr(m),
        repr(m.client),
        repr(m.store),
        str(good.__dict__),
        str(m.client.__dict__.get("base_url")),
    ]
    for t in texts:
        assert TEST_KEY not in t
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert TEST_KEY.encode() not in f.read_bytes(), f"the key is in {f.name}"
    assert TEST_KEY in fake.seen_keys  # it did reach the server, where it belongs


def test_video_from_a_real_clip_pixelates(tmp_path, make_manager):
    from pixelnb.testing import FakeLuma

    clip = encode(tmp_path / "sq.mp4", moving_square, count=25, fps=25)
    with FakeLuma(clip, api_key=TEST_KEY, queue_seconds=0, dream_seconds=0.05) as fake:
        m = make_manager(base_url=fake.base_url)
        sprite = generate("a red square", manager=m, pixel={"size": 48, "colors": 4, "fps": 5}).result(30)
    assert sprite.indices.shape == (5, 32, 48)


def test_extend_interpolate_and_image_keyframes_end_to_end(manager, fake):
    first = generate("a cat starts walking", manager=manager, pixel=PIXEL)
    first.result(30)
    ext = generate("the cat keeps walking", keyframes={"frame0": first}, manager=manager, pixel=PIXEL)
    ext.result(30)
    sent = fake.generations[ext.luma_id]["request"]
    assert sent["keyframes"] == {"frame0": {"type": "generation", "id": first.luma_id}}
    both = generate("blend", keyframes={"frame0": first, "frame1": ext}, manager=manager, pixel=PIXEL)
    both.result(30)
    img = generate(
        None,
        keyframes="https://example.com/cat.png",
        loop=True,
        concepts=["dolly_zoom"],
        manager=manager,
        pixel=PIXEL,
    )
    img.result(30)
    req = fake.generations[img.luma_id]["request"]
    assert req["loop"] is True and req["concepts"] == [{"key": "dolly_zoom"}]
    assert fake.creates == 4


def test_credits(manager):
    from pixelnb.jobs import credits

    assert credits(manager) == 100_000.0


def test_two_submits_at_once_are_one_job(manager, fake):
    """Two threads submit the same request at the same moment (two click messages handled
    at once): one job, one generation."""
    barrier = threading.Barrier(8)
    got = []

    def submit():
        barrier.wait()
        got.append(generate("a cat clicked by many", manager=manager, pixel=PIXEL))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(j) for j in got}) == 1
    got[0].result(30)
    assert fake.creates == 1


def test_cancel_while_dreaming_deletes_the_generation_at_luma_and_says_so(manager, fake):
    import httpx

    fake.dream_seconds = 30
    job = generate("a slow cloud", manager=manager, pixel=PIXEL)
    assert reached(job, "dreaming").wait(10)
    bar = job.progress.fraction
    job.cancel()
    with pytest.raises(JobCancelled, match="deleted at Luma, which stops it"):
        job.result(5)
    gone = httpx.get(
        f"{fake.base_url}/generations/{job.luma_id}", headers={"Authorization": f"Bearer {TEST_KEY}"}
    )
    assert gone.status_code == 404  # the fake's record of it is gone: Luma was asked to delete
    assert job.progress.fraction == pytest.approx(bar, abs=0.01) and job.progress.fraction < 1


def test_cancel_before_the_create_says_nothing_was_paid(fake, make_manager):
    fake.dream_seconds = 30
    m = make_manager(max_active=1)
    first = generate("a slow cloud", manager=m, pixel=PIXEL)
    waiting = generate("a second cloud", manager=m, pixel=PIXEL)  # waits for the one slot
    assert reached(first, "dreaming").wait(10)
    waiting.cancel()
    with pytest.raises(JobCancelled, match="nothing was paid"):
        waiting.result(5)
    assert fake.creates == 1
    first.cancel()


def test_a_rerun_after_a_deleting_cancel_pays_for_a_new_generation(manager, fake):
    fake.dream_seconds = 30
    job = generate("a slow cloud", manager=manager, pixel=PIXEL)
    assert reached(job, "dreaming").wait(10)
    job.cancel()
    with pytest.raises(JobCancelled):
        job.result(5)
    fake.dream_seconds = 0.1
    again = generate("a slow cloud", manager=manager, pixel=PIXEL)
    again.result(30)
    assert fake.creates == 2 and again.luma_id != job.luma_id and not again.reused


def test_a_rerun_of_a_finished_prompt_says_it_reused_the_generation(manager, fake):
    first = generate("a cat", manager=manager, pixel=PIXEL)
    first.result(30)
    again = generate("a cat", manager=manager, pixel={**PIXEL, "colors": 4})
    again.result(30)
    assert again.reused and not first.reused and fake.creates == 1


def test_the_typical_dream_is_learnt_from_the_store(manager, fake):
    from pixelnb.jobs.manager import TYPICAL_DREAM_SECONDS

    assert manager.typical_dream_seconds() == TYPICAL_DREAM_SECONDS  # nothing seen yet
    fake.dream_seconds = 1.5
    job = generate("a cat", manager=manager, pixel=PIXEL)
    job.result(30)
    (t_dream,) = [t for s, t, _ in job.history if s == "dreaming"]
    t_next = next(t for s, t, _ in job.history if s == "downloading")
    assert manager.typical_dream_seconds() == pytest.approx(max(1.0, t_next - t_dream))
