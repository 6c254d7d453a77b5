import asyncio
import itertools

import pytest

from conftest import TEST_KEY
from pixelnb.errors import (
    AuthError,
    GenerationFailed,
    LumaUnavailable,
    ModerationError,
    QuotaError,
    RequestError,
)
from pixelnb.luma import GenerationRequest, LumaClient, PollPolicy, failure_error, resolve_api_key


def client_for(fake, key=TEST_KEY, **kw) -> LumaClient:
    return LumaClient(key, base_url=fake.base_url, timeout=0.5, retry_wait=0.02, **kw)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": None}, "prompt is required"),
        ({"prompt": "hi"}, "too short"),
        ({"prompt": "x" * 5001}, "too long"),
        ({"prompt": "a cat", "model": "ray-9"}, "unknown model"),
        ({"prompt": "a cat", "aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"prompt": "a cat", "duration": "7s"}, "duration"),
        ({"prompt": "a cat", "resolution": "8k"}, "resolution"),
        ({"prompt": "a cat", "loop": True, "keyframes": {"frame1": "https://x/end.jpg"}}, "end frame"),
        ({"prompt": "a cat", "keyframes": {"frame2": "https://x"}}, "frame0"),
    ],
)
def test_bad_requests_fail_before_anything_is_sent(kwargs, match):
    with pytest.raises(RequestError, match=match):
        GenerationRequest.build(**kwargs)


def test_keyframes_cover_image_extend_reverse_and_interpolate():
    img = GenerationRequest.build(None, keyframes="https://example.com/cat.jpg")
    assert img.to_api()["keyframes"] == {"frame0": {"type": "image", "url": "https://example.com/cat.jpg"}}
    g1, g2 = "3ce343aa-5746-4ab3-b167-4e29f83d3f42", "d1968551-6113-4b46-b567-09210c2e79b0"
    ext = GenerationRequest.build("walk on", keyframes={"frame0": g1})
    assert ext.keyframes == {"frame0": {"type": "generation", "id": g1}}
    rev = GenerationRequest.build("walk in", keyframes={"frame1": g1})
    assert rev.keyframes == {"frame1": {"type": "generation", "id": g1}}
    both = GenerationRequest.build("blend", keyframes={"frame0": g1, "frame1": g2})
    assert set(both.keyframes) == {"frame0", "frame1"}
    assert GenerationRequest.build("cam", concepts=["dolly_zoom"]).to_api()["concepts"] == [
        {"key": "dolly_zoom"}
    ]


def test_request_key_is_stable_and_matches_its_echo():
    a = GenerationRequest.build("a cat", aspect_ratio="16:9")
    b = GenerationRequest.build("  a cat ", aspect_ratio="16:9")
    assert a.key() == b.key() and a.key() != GenerationRequest.build("a dog").key()
    echo = {**a.to_api(), "generation_type": "video", "callback_url": None}
    assert a.matches(echo) and not GenerationRequest.build("a dog").matches(echo)
    assert GenerationRequest.from_json(a.to_json()) == a


def test_key_comes_from_argument_env_or_dotenv(tmp_path, monkeypatch):
    monkeypatch.delenv("LUMAAI_API_KEY", raising=False)
    (tmp_path / ".env").write_text("# keys\nLUMAAI_API_KEY='from-dotenv'\n")
    assert resolve_api_key(None, tmp_path / ".env") == "from-dotenv"
    monkeypatch.setenv("LUMAAI_API_KEY", "from-env")
    assert resolve_api_key(None, tmp_path / ".env") == "from-env"
    assert resolve_api_key("from-arg") == "from-arg"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("400: prompt not allowed because advanced moderation failed", ModerationError),
        ("Contains blacklisted words", ModerationError),
        ("prompt not allowed because it contains IP", ModerationError),
        ("Failed to read user input frames", RequestError),
        ("Job failed", GenerationFailed),
        (None, GenerationFailed),
    ],
)
def test_failure_reasons_map_to_typed_errors(reason, kind):
    err = failure_error(reason)
    assert type(err) is kind and err.hint


def test_poll_policy_backs_off_from_2_to_10_seconds():
    import random

    d = PollPolicy().delays(random.Random(0))
    seq = [next(d) for _ in range(10)]
    assert 1.6 <= seq[0] <= 2.4 and all(8 <= s <= 12 for s in seq[-3:])
    assert all(b >= a * 0.8 for a, b in itertools.pairwise(seq))


def run(coro):
    return asyncio.run(coro)


def test_create_and_get_through_the_sdk(fake):
    async def go():
        c = client_for(fake)
        gen = await c.create(GenerationRequest.build("a cat"))
        got = await c.get(gen["id"])
        return gen, got

    gen, got = run(go())
    assert gen["state"] == "queued" and got["id"] == gen["id"] and fake.creates == 1


@pytest.mark.parametrize("fault", ["lost", "accepted_500", "500", "drop", "429", "slow"])
def test_a_create_is_paid_for_at_most_once(fake, fault):
    fake.inject(fault, on="create")

    async def go():
        return await client_for(fake).create(GenerationRequest.build("a cat in the rain"))

    gen = run(go())
    assert fake.creates == 1, f"{fault}: {fake.creates} generations were made"
    assert gen["request"]["prompt"] == "a cat in the rain"


def test_reconciliation_does_not_take_another_jobs_generation(fake):
    async def go():
        c = client_for(fake)
        first = await c.create(GenerationRequest.build("twins"))
        fake.inject("500", on="create")  # refused before it was made: must create anew
        second = await c.create(GenerationRequest.build("twins"), exclude={first["id"]})
        return first, second

    first, second = run(go())
    assert first["id"] != second["id"] and fake.creates == 2


@pytest.mark.parametrize("fault", ["500", "429", "drop", "slow"])
def test_reads_are_retried(fake, fault):
    async def go():
        c = client_for(fake)
        gen = await c.create(GenerationRequest.build("a cat"))
        fake.inject(fault, on="get", times=2)
        return await c.get(gen["id"])

    assert run(go())["state"] in ("queued", "dreaming", "completed")


def test_reads_give_up_with_a_typed_error(fake):
    async def go():
        c = LumaClient(TEST_KEY, base_url=fake.base_url, timeout=0.5, retry_wait=0.01, read_retries=2)
        fake.inject("500", on="list", times=5)
        await c.list_generations()

    with pytest.raises(LumaUnavailable, match="HTTP 500"):
        run(go())


def test_wrong_key_is_an_auth_error(fake):
    with pytest.raises(AuthError, match="refused the API key") as err:
        run(client_for(fake, key="luma-wrong-key-xyz").credits())
    assert "luma-wrong-key-xyz" not in str(err.value)


def test_missing_key_is_an_auth_error(fake, monkeypatch, tmp_path):
    monkeypatch.delenv("LUMAAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AuthError, match="LUMAAI_API_KEY"):
        run(LumaClient(None, base_url=fake.base_url).credits())


def test_unreachable_server_is_luma_unavailable():
    c = LumaClient(TEST_KEY, base_url="http://127.0.0.1:9/dream-machine/v1", retry_wait=0.01, read_retries=1)
    with pytest.raises(LumaUnavailable, match="could not connect"):
        run(c.credits())


def test_quota_after_repeated_429(fake):
    async def go():
        c = LumaClient(TEST_KEY, base_url=fake.base_url, retry_wait=0.01, read_retries=1)
        fake.inject("429", on="list", times=3)
        await c.list_generations()

    with pytest.raises(QuotaError):
        run(go())


def test_creates_are_paced_per_minute(fake, monkeypatch):
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    async def go():
        c = client_for(fake, creates_per_minute=3)
        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
        for _ in range(4):
            await c._pace_creates()

    run(go())
    assert len(slept) == 1 and 55 < slept[0] <= 60


def test_repr_hides_the_key(fake):
    c = client_for(fake)
    assert TEST_KEY not in repr(c) and "key=set" in repr(c)
    assert TEST_KEY not in repr(c.__dict__.get("base_url"))
