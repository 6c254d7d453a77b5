"""The fake's Photon images, per-prompt videos and callbacks, checked with the official SDK
(strict response validation): what issue 14's character pipeline will stand on."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import lumaai
import numpy as np
import pytest
from PIL import Image

from conftest import TEST_KEY
from media import encode, moving_square
from pixelnb.testing import FakeLuma


@pytest.fixture
def sdk(fake):
    return lumaai.LumaAI(
        auth_token=TEST_KEY, base_url=fake.base_url, max_retries=0, _strict_response_validation=True
    )


def finish(fake, sdk, gen_id):
    fake.advance(fake.queue_seconds + fake.dream_seconds + 1)
    return sdk.generations.get(gen_id)


def test_photon_images_are_made_followed_and_served_as_pictures(fake, sdk):
    prompt = "a knight in silver armour"
    made = [
        sdk.generations.image.create(model="photon-1", prompt=prompt, aspect_ratio="1:1"),
        sdk.generations.image.create(model="photon-flash-1", prompt=prompt, aspect_ratio="16:9"),
    ]
    assert [g.state for g in made] == ["queued", "queued"] and made[0].generation_type == "image"
    assert made[0].request.model == "photon-1"
    pictures = []
    for gen, size in zip(made, [(512, 512), (768, 432)], strict=True):
        done = finish(fake, sdk, gen.id)
        assert done.state == "completed" and done.assets.video is None
        r = httpx.get(done.assets.image)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        im = Image.open(io.BytesIO(r.content))
        assert im.size == size
        pictures.append(np.asarray(im.convert("RGB")))
    assert not np.array_equal(pictures[0][:, :432], pictures[1][:, 168:600])  # each generation differs
    jpg = sdk.generations.image.create(model="photon-1", prompt="a knight", format="jpg")
    r = httpx.get(finish(fake, sdk, jpg.id).assets.image)
    assert r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert fake.creates == 3


def test_a_green_backdrop_is_asked_for_in_the_prompt(fake, sdk):
    gen = sdk.generations.image.create(model="photon-1", prompt="a cat, plain green background")
    im = np.asarray(Image.open(io.BytesIO(httpx.get(finish(fake, sdk, gen.id).assets.image).content)))
    assert tuple(im[0, 0, :3]) == (0, 255, 0)


def test_image_references_are_echoed_and_checked(fake, sdk):
    refs = {
        "image_ref": [{"url": "https://example.org/a.png", "weight": 0.8}],
        "style_ref": [{"url": "https://example.org/s.png", "weight": 0.5}],
        "character_ref": {"identity0": {"images": ["https://example.org/c.png"]}},
        "modify_image_ref": {"url": "https://example.org/m.png", "weight": 1.0},
    }
    gen = sdk.generations.image.create(model="photon-1", prompt="the same knight, running", **refs)
    assert gen.request.character_ref.identity0.images == ["https://example.org/c.png"]
    assert gen.request.image_ref[0].weight == 0.8
    with pytest.raises(lumaai.BadRequestError, match="Invalid model"):
        sdk.generations.image.create(model="photon-9", prompt="a knight")
    with pytest.raises(lumaai.BadRequestError, match="at most 4"):
        sdk.generations.image.create(
            model="photon-1",
            prompt="a knight",
            image_ref=[{"url": f"https://e.org/{i}.png"} for i in range(5)],
        )
    with pytest.raises(lumaai.BadRequestError, match="character_ref"):
        sdk.generations.image.create(model="photon-1", prompt="a knight", character_ref={"identity0": {}})


def test_photon_has_limits_of_its_own():
    with FakeLuma(api_key=TEST_KEY, queue_seconds=100, dream_seconds=100, clock=lambda: 0.0) as fake:
        sdk = lumaai.LumaAI(auth_token=TEST_KEY, base_url=fake.base_url, max_retries=0)
        for i in range(10):
            sdk.generations.create(model="ray-2", prompt=f"a video number {i}")
        with pytest.raises(lumaai.RateLimitError):
            sdk.generations.create(model="ray-2", prompt="one video too many")
        for i in range(40):  # videos at their limit do not hold images back
            sdk.generations.image.create(model="photon-1", prompt=f"an image number {i}")
        with pytest.raises(lumaai.RateLimitError, match="40"):
            sdk.generations.image.create(model="photon-1", prompt="one image too many")


def test_each_prompt_word_serves_its_own_video(tmp_path, media):
    other = encode(tmp_path / "walk.mp4", lambda i: moving_square(i + 7), count=12, fps=12)
    with FakeLuma(videos={"walk": other}, queue_seconds=0, dream_seconds=0) as fake:
        sdk = lumaai.LumaAI(auth_token="k", base_url=fake.base_url, max_retries=0)
        walk = sdk.generations.create(
            model="ray-2", prompt="the knight walks, side view",
            keyframes={"frame0": {"type": "image", "url": "https://example.org/knight.png"}},
        )  # fmt: skip
        idle = sdk.generations.create(model="ray-2", prompt="the knight stands idle")
        got = {g.id: httpx.get(sdk.generations.get(g.id).assets.video).content for g in (walk, idle)}
    assert got[walk.id] == other.read_bytes() and got[idle.id] == fake.video


class Receiver:
    """A loopback webhook receiver: records each POSTed generation; the first answer can
    be made to fail, to see Luma's retries."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[dict] = []
        self.fail_first = fail_first
        self.done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                failing = receiver.fail_first > 0
                receiver.fail_first -= 1
                receiver.got.append(body)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if body["state"] in ("completed", "failed") and not failing:
                    receiver.done.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_callbacks_are_posted_on_each_state_and_retried(fake, sdk):
    hook = Receiver(fail_first=1)
    try:
        gen = sdk.generations.create(model="ray-2", prompt="a cat walking", callback_url=hook.url)
        fake.advance(fake.queue_seconds + fake.dream_seconds + 1)
        assert hook.done.wait(10)
    finally:
        hook.server.shutdown()
    states = [g["state"] for g in hook.got]
    assert states[0] == states[1] and states[-1] == "completed"  # the first answer failed: sent again
    assert all(g["id"] == gen.id for g in hook.got)
    assert lumaai.types.Generation.model_validate(hook.got[-1]).assets.video  # the SDK's own shape
    assert [s for _, s, status in fake.callbacks if status == 200][-1] == "completed"


def test_callbacks_go_to_loopback_only(fake, sdk):
    gen = sdk.generations.create(
        model="ray-2", prompt="a cat walking", callback_url="https://example.org/hook"
    )
    assert fake.callbacks_withheld == ["https://example.org/hook"]  # decided at create, not later
    assert finish(fake, sdk, gen.id).state == "completed" and fake.callbacks == []


def test_the_sdk_exercises_every_method_against_the_fake(fake, sdk):
    video = sdk.generations.create(model="ray-2", prompt="a cat walking in a garden")
    also = sdk.generations.video.create(model="ray-flash-2", prompt="a dog running", aspect_ratio="16:9")
    with pytest.raises(lumaai.BadRequestError, match="not a completed video"):
        sdk.generations.upscale(video.id, resolution="1080p")
    done = finish(fake, sdk, video.id)
    url = done.assets.video
    made = {
        "upscale": sdk.generations.upscale(done.id, resolution="1080p", generation_type="upscale_video"),
        "audio": sdk.generations.audio(done.id, prompt="footsteps", negative_prompt="music"),
        "modify": sdk.generations.video.modify(
            generation_type="modify_video", media={"url": url}, mode="adhere_1", model="ray-2",
            prompt="redrawn as pixel art", first_frame={"url": "https://example.org/first.png"},
        ),
        "video reframe": sdk.generations.video.reframe(
            generation_type="reframe_video", media={"url": url}, model="ray-flash-2", aspect_ratio="9:16",
            grid_position_x=10, grid_position_y=20, resized_width=540, resized_height=960,
        ),
        "image": sdk.generations.image.create(model="photon-flash-1", prompt="a cat, pixel art"),
        "image reframe": sdk.generations.image.reframe(
            generation_type="reframe_image", media={"url": "https://example.org/cat.png"}, model="photon-1",
            aspect_ratio="16:9", format="png",
        ),
    }  # fmt: skip
    assert len({g.id for g in made.values()} | {video.id, also.id}) == 8  # each is a new generation
    fake.advance(fake.queue_seconds + fake.dream_seconds + 1)
    for what, gen in made.items():
        got = sdk.generations.get(gen.id)
        assert got.state == "completed", what
        asset = got.assets.image if what.startswith("image") else got.assets.video
        r = httpx.get(asset)
        assert r.status_code == 200 and len(r.content) > 100, what
        if what in ("upscale", "audio"):
            assert r.content == httpx.get(url).content  # the source generation's video
    listed = sdk.generations.list(limit=5, offset=0)
    assert listed.count == 8 and len(listed.generations) == 5 and listed.has_more
    concepts = sdk.generations.concepts.list()
    assert len(concepts) == 34 and "dolly_zoom" in concepts and "tiny_planet" in concepts
    assert sdk.credits.get().credit_balance > 0
    sdk.ping.check()
    sdk.generations.delete(also.id)
    with pytest.raises(lumaai.NotFoundError):
        sdk.generations.get(also.id)
    with pytest.raises(lumaai.BadRequestError, match="Invalid mode"):
        sdk.generations.video.modify(
            generation_type="modify_video", media={"url": url}, mode="wild", model="ray-2"
        )
    with pytest.raises(lumaai.BadRequestError, match="Invalid model"):
        sdk.generations.image.reframe(
            generation_type="reframe_image", media={"url": url}, model="ray-2", aspect_ratio="1:1"
        )
