"""The fake under bad input and restarts, checked with the official SDK: a malformed body
is a 400 with a ``detail`` (never a dropped connection), and a restarted fake keeps its
generations (``--state``)."""

from __future__ import annotations

import httpx
import lumaai
import pytest

from conftest import TEST_KEY
from pixelnb.jobs import generate
from pixelnb.testing import FakeLuma

BAD_BODIES = [
    {"model": "ray-2", "prompt": 12345},
    {"model": "ray-2", "prompt": "a cat", "keyframes": "x"},
    {"model": "ray-2", "prompt": "a cat", "loop": True, "keyframes": {"frame0": None, "frame1": None}},
    {"model": "ray-2", "prompt": "a cat", "loop": True, "keyframes": {"frame1": None}},
    {"model": "ray-2", "prompt": "a cat", "loop": "yes"},
    {"model": "ray-2", "prompt": "a cat", "keyframes": {"frame0": {"type": "image"}}},
    {"model": "ray-2", "prompt": "a cat", "keyframes": {"frame0": {"type": "video", "url": "x"}}},
    {"model": "ray-2", "prompt": "a cat", "keyframes": {"frame7": {"type": "image", "url": "https://x"}}},
    {"model": "ray-2", "prompt": "a cat", "concepts": "dolly_zoom"},
    {"model": 2, "prompt": "a cat"},
    {"model": "ray-2", "prompt": "a cat", "aspect_ratio": 1.5},
]


@pytest.fixture
def sdk(fake):
    client = lumaai.LumaAI(auth_token=TEST_KEY, base_url=fake.base_url, max_retries=0)
    yield client
    client.close()


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_a_malformed_create_is_a_400_with_a_detail(fake, body):
    r = httpx.post(fake.base_url + "/generations", json=body, headers={"Authorization": f"Bearer {TEST_KEY}"})
    assert r.status_code == 400 and r.json()["detail"].startswith("400: ")
    assert fake.creates == 0


def test_the_sdk_sees_a_bad_request_not_a_connection_error(fake, sdk):
    with pytest.raises(lumaai.BadRequestError):
        sdk.generations.create(model="ray-2", prompt=12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=-3", "offset=-1", "offset=x"])
def test_bad_pagination_is_a_400(fake, query):
    r = httpx.get(f"{fake.base_url}/generations?{query}", headers={"Authorization": f"Bearer {TEST_KEY}"})
    assert r.status_code == 400 and "limit" in r.json()["detail"]


def test_validation_comes_before_the_rate_limit(fake):
    fake.creates_per_minute = 0
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    bad = httpx.post(fake.base_url + "/generations", json={"model": "ray-2", "prompt": 5}, headers=headers)
    good = httpx.post(
        fake.base_url + "/generations", json={"model": "ray-2", "prompt": "a cat"}, headers=headers
    )
    assert (bad.status_code, good.status_code) == (400, 429)


def test_a_restarted_fake_keeps_its_generations_and_the_job_finishes(tmp_path, make_manager):
    state = tmp_path / "fake.json"
    first = FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.5, state=state).start()
    port = first.port
    m = make_manager(base_url=first.base_url, client_kw={"retry_wait": 0.05, "read_retries": 20})
    job = generate("a lighthouse at dusk", manager=m, pixel={"size": 24, "colors": 6, "fps": 4})
    import threading

    dreaming = threading.Event()
    job.on_change(lambda j: dreaming.set() if j.state == "dreaming" else None)
    assert dreaming.wait(10)
    first.stop()  # mid-dream: the client's reads now fail and are retried
    second = FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.5, state=state, port=port).start()
    try:
        job.result(30)
        assert second.creates == 0, "the restarted fake was asked for a new generation"
        assert job.luma_id in second.generations
        assert first.creates == 1
    finally:
        second.stop()
