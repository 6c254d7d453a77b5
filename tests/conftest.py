"""Shared fixtures: real H.264 files, made with PyAV or taken from ../shared/clips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from media import encode, moving_square
from pixelnb.data import sample_clip

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = SHARED / "clips"


@pytest.fixture(scope="session")
def bunny() -> Path:
    """The bundled sample clip (480x270, 25 fps, 5.28 s)."""
    return sample_clip()


@pytest.fixture(scope="session")
def phone_vfr() -> Path:
    """A real variable-frame-rate phone clip (1280x720, about 24 fps, 1.5 s)."""
    p = CLIPS / "dog_phone_720p.mp4"
    assert p.exists(), f"{p} is missing: the tests read the sample clips in ../shared/clips"
    return p


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def square_clip(media: Path) -> Path:
    """96x64, 25 fps, 2 s: a moving red square on a gradient."""
    return encode(media / "square.mp4", moving_square, count=50)


@pytest.fixture(scope="session")
def rotated_clip(media: Path) -> Path:
    """96x64 frames stored with a 90° rotation tag: players show them 64x96 (portrait)."""

    def frame(i: int) -> np.ndarray:
        img = np.zeros((64, 96, 3), np.uint8)
        img[:, :24] = 255  # a white band on the stored left edge
        img[:8, 40:60] = (0, 0, 255) if i % 2 else (0, 255, 0)
        return img

    return encode(media / "rotated.mp4", frame, count=20, fps=10, rotation=90)


# -- Luma --------------------------------------------------------------------------------------
TEST_KEY = "luma-test-0123456789abcdef-secret"


@pytest.fixture
def fake():
    """A FakeLuma on 127.0.0.1 with short queue and dream times, accepting TEST_KEY only."""
    from pixelnb.testing import FakeLuma

    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.15, slow_seconds=1.0) as server:
        yield server


def create(fake, prompt: str = "a cat", key: str = TEST_KEY):
    """POST a create to the fake over plain HTTP and return the response."""
    import httpx

    return httpx.post(
        fake.base_url + "/generations",
        json={"model": "ray-2", "prompt": prompt},
        headers={"Authorization": f"Bearer {key}"},
    )


def finished(fake, prompt: str = "a cat") -> dict:
    """A generation the fake has finished (its time stepped past queue and dream)."""
    import httpx

    gen = create(fake, prompt).json()
    fake.advance(fake.queue_seconds + fake.dream_seconds + 1)
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    return httpx.get(f"{fake.base_url}/generations/{gen['id']}", headers=headers).json()


@pytest.fixture
def make_manager(fake, tmp_path):
    """Build JobManagers on the fake (fast polling and retries); each is closed at the end
    of the test, so no loop thread or pending task outlives it.

    ``make_manager()`` uses ``tmp_path/jobs.sqlite3``; pass a path or a JobStore, a
    ``key``, a ``base_url`` (another fake), ``poll``, ``client_kw`` for the LumaClient, and
    any JobManager keyword.
    """
    from pixelnb.jobs import JobManager
    from pixelnb.luma import LumaClient, PollPolicy
    from pixelnb.store import JobStore

    made = []

    def make(store=None, *, key=TEST_KEY, base_url=None, poll=None, client_kw=None, **kw):
        client = LumaClient(
            key,
            base_url=base_url or fake.base_url,
            **{"timeout": 2.0, "retry_wait": 0.02, **(client_kw or {})},
        )
        if not isinstance(store, JobStore):
            store = JobStore(store or tmp_path / "jobs.sqlite3")
        m = JobManager(store, client=client, poll=poll or PollPolicy(0.01, 0.05, deadline=30), **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


@pytest.fixture
def manager(make_manager):
    """A JobManager on a fresh store, talking to the fake with fast polling and retries."""
    return make_manager(client_kw={"timeout": 0.5})


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for what starts inside the block
    (a notebook's kernel inherits them), and put them back after."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
