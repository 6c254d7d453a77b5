"""The fake server against the official SDK and the contract in ../shared/luma-api.md."""

import httpx
import lumaai
import pytest

from conftest import TEST_KEY, create, finished
from pixelnb.testing import FakeLuma


@pytest.fixture
def sdk(fake):
    return lumaai.LumaAI(auth_token=TEST_KEY, base_url=fake.base_url, max_retries=0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sdk_creates_gets_lists_and_deletes(sdk, fake):
    gen = sdk.generations.create(model="ray-2", prompt="a cat walking", aspect_ratio="1:1", resolution="540p")
    assert gen.state == "queued" and gen.id and gen.assets is None
    assert gen.request.model == "ray-2"
    again = sdk.generations.get(gen.id)
    assert again.id == gen.id
    listed = sdk.generations.list(limit=10, offset=0)
    assert listed.count == 1 and listed.generations[0].id == gen.id and listed.has_more is False
    sdk.generations.delete(gen.id)
    with pytest.raises(lumaai.NotFoundError):
        sdk.generations.get(gen.id)


def test_both_create_paths_are_served(fake):
    for path in ("/generations", "/generations/video"):
        r = httpx.post(
            fake.base_url + path,
            json={"model": "ray-2", "prompt": "a dog"},
            headers={"Authorization": f"Bearer {TEST_KEY}"},
        )
        assert r.status_code == 201 and r.json()["state"] == "queued"
    assert fake.creates == 2


def test_credits_concepts_and_ping(sdk):
    assert sdk.credits.get().credit_balance > 0
    assert "dolly_zoom" in sdk.generations.concepts.list()
    assert sdk.ping.check().message == "pong"


def test_generation_moves_on_the_clock_and_serves_a_real_mp4():
    clock = Clock()
    with FakeLuma(queue_seconds=1, dream_seconds=2, clock=clock) as fake:
        sdk = lumaai.LumaAI(auth_token="any-key", base_url=fake.base_url, max_retries=0)
        gen = sdk.generations.create(model="ray-flash-2", prompt="a cat")
        states = []
        for t in (0.5, 1.5, 3.5):
            clock.now = t
            states.append(sdk.generations.get(gen.id).state)
        assert states == ["queued", "dreaming", "completed"]
        done = sdk.generations.get(gen.id)
        r = httpx.get(done.assets.video)
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        assert r.content[4:8] == b"ftyp" and r.content == fake.video
        part = httpx.get(done.assets.video, headers={"Range": "bytes=100-"})
        assert part.status_code == 206 and part.content == fake.video[100:]


def test_refused_prompt_fails_with_a_moderation_reason(sdk, fake):
    gen = sdk.generations.create(model="ray-2", prompt="something forbidden")
    fake.advance(1)
    done = sdk.generations.get(gen.id)
    assert done.state == "failed" and "moderation" in done.failure_reason


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "Basic x"}])
def test_401_without_a_valid_bearer_key(fake, headers):
    r = httpx.get(fake.base_url + "/generations", headers=headers)
    assert r.status_code == 401 and "detail" in r.json()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "ray-2"}, "Prompt is required"),
        ({"model": "ray-2", "prompt": "ab"}, "too short"),
        ({"model": "ray-2", "prompt": "x" * 5001}, "too long"),
        ({"model": "ray-9", "prompt": "a cat"}, "Invalid model"),
        ({"model": "ray-2", "prompt": "a cat", "aspect_ratio": "2:1"}, "Invalid aspect_ratio"),
        ({"model": "ray-2", "prompt": "a cat", "keyframes": {}}, "No keyframes provided"),
        (
            {
                "model": "ray-2",
                "prompt": "a cat",
                "loop": True,
                "keyframes": {"frame1": {"type": "image", "url": "https://x/y.jpg"}},
            },
            "Loop is not supported",
        ),
    ],
)
def test_documented_validation_errors(sdk, body, message):
    with pytest.raises(lumaai.BadRequestError) as err:
        sdk.post("/generations/video", body=body, cast_to=dict)
    assert err.value.status_code == 400
    assert err.value.body["detail"].startswith("400: ") and message in err.value.body["detail"]


def test_429_with_retry_after_past_ten_active_generations(fake):
    fake.dream_seconds = 60
    codes = [create(fake, f"cat {i}").status_code for i in range(11)]
    assert codes == [201] * 10 + [429]
    r = create(fake, "one more")
    assert r.headers["Retry-After"] == "1" and "concurrent" in r.json()["detail"]


def test_429_past_twenty_creates_a_minute():
    with FakeLuma(queue_seconds=0, dream_seconds=0) as fake:
        codes = [create(fake, f"cat {i}", key="k").status_code for i in range(21)]
        assert codes == [201] * 20 + [429]


def test_injected_faults(fake):
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    fake.inject("500", on="list")
    assert httpx.get(fake.base_url + "/generations", headers=headers).status_code == 500
    fake.inject("drop", on="list")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(fake.base_url + "/generations", headers=headers)
    fake.inject("lost", on="create")
    with pytest.raises(httpx.RemoteProtocolError):
        create(fake)
    assert fake.creates == 1, "a lost create was still made"
    fake.inject("slow", on="list")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fake.base_url + "/generations", headers=headers, timeout=0.3)


def test_truncated_download(fake):
    url = finished(fake)["assets"]["video"]
    fake.inject("truncate", on="download")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
