"""Downloads under faults: redirects, loops, a trickling server, a killed process, two
downloads of one URL, a cache file whose name lies, and the fake's Range answers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from conftest import finished
from pixelnb.download import download
from pixelnb.errors import DownloadError


@pytest.fixture
def video_url(fake):
    return finished(fake)["assets"]["video"]


def _asset_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_a_redirect_to_another_host_is_refused_before_it_is_followed(fake, video_url, tmp_path):
    fake.redirects[_asset_path(video_url)] = "http://198.51.100.7/video.mp4"
    with pytest.raises(DownloadError, match=r"refusing to download from http URL 'http://198\.51\.100\.7"):
        asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, timeout=2))
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_on_the_same_host_is_followed(fake, video_url, tmp_path):
    real = _asset_path(video_url)
    fake.redirects["/assets/elsewhere.mp4"] = real
    url = video_url.replace(real, "/assets/elsewhere.mp4")
    got = asyncio.run(download(url, tmp_path, allow_http_loopback=True))
    assert got.path.read_bytes() == fake.video


def test_a_redirect_loop_is_a_download_error(fake, video_url, tmp_path):
    path = _asset_path(video_url)
    fake.redirects[path] = path
    with pytest.raises(DownloadError, match="redirected more than 5 times"):
        asyncio.run(download(video_url, tmp_path, allow_http_loopback=True))


def test_a_trickling_server_is_given_up_on_at_the_deadline(fake, video_url, tmp_path):
    fake.trickle = 64  # 64 bytes every 50 ms: the 195 kB clip would take 2.5 minutes
    with pytest.raises(DownloadError, match="did not finish within 1 s"):
        asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, deadline=1.0, name="job"))
    # What arrived is kept, so resuming continues from there.
    part = tmp_path / ".job.part"
    had = part.stat().st_size
    assert 0 < had < len(fake.video)
    fake.trickle = 0
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, name="job"))
    assert got.path.read_bytes() == fake.video
    assert fake.ranges[-1] == f"bytes={had}-", "the retry did not continue from what was on disk"
    assert not part.exists()


CHILD = """
import asyncio, sys
from pathlib import Path
from pixelnb.download import download
asyncio.run(download(sys.argv[1], Path(sys.argv[2]), allow_http_loopback=True, name="job1"))
"""


def test_a_download_killed_mid_way_resumes_with_range(fake, video_url, tmp_path):
    fake.trickle = 4096
    child = subprocess.Popen([sys.executable, "-c", CHILD, video_url, str(tmp_path)])
    part = tmp_path / ".job1.part"
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size >= 20000):
            assert child.poll() is None, "the download ended before it could be killed"
            assert time.monotonic() < deadline, "the child never started writing"
            time.sleep(0.02)  # polling a file another process writes; not synchronisation
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    had = part.stat().st_size
    fake.trickle = 0
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, name="job1"))
    assert got.path.read_bytes() == fake.video
    assert got.sha256 == hashlib.sha256(fake.video).hexdigest()
    assert fake.ranges[-1] == f"bytes={had}-", "the resumed download started from byte 0"


def test_two_downloads_of_one_url_do_not_share_a_part_file(fake, video_url, tmp_path):
    async def both():
        return await asyncio.gather(
            download(video_url, tmp_path, allow_http_loopback=True, name="a"),
            download(video_url, tmp_path, allow_http_loopback=True, name="b"),
        )

    fake.trickle = 16384
    a, b = asyncio.run(both())
    assert a.path == b.path and a.path.read_bytes() == fake.video
    assert sorted(p.name for p in tmp_path.iterdir()) == [a.path.name]


def test_a_cache_file_whose_content_does_not_match_its_name_is_replaced(fake, video_url, tmp_path):
    sha = hashlib.sha256(fake.video).hexdigest()
    (tmp_path / f"{sha}.mp4").write_bytes(b"not the video")
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True))
    assert got.path.read_bytes() == fake.video


def test_a_changed_file_on_the_server_restarts_the_download(fake, video_url, tmp_path):
    """If-Range: a part of an older file is not glued to a newer one."""
    (tmp_path / ".j.part").write_bytes(b"x" * 1000)
    (tmp_path / ".j.part.etag").write_text('"an-older-version"')
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, name="j"))
    assert got.path.read_bytes() == fake.video


# -- the fake's Range answers, as the SDK-independent HTTP client sees them ---------------------
@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=10-19", 206, slice(10, 20)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-50", 206, slice(-50, None)),
        ("bytes=0-999999999", 206, slice(0, None)),
    ],
)
def test_fake_serves_byte_ranges(fake, video_url, header, status, body):
    r = httpx.get(video_url, headers={"Range": header})
    assert r.status_code == status
    assert r.content == fake.video[body]
    n = len(fake.video)
    start = body.start if body.start is None or body.start >= 0 else n + body.start
    assert r.headers["content-range"].startswith(f"bytes {start or 0}-")
    assert r.headers["etag"] == fake.etag


def test_fake_answers_416_past_the_end(fake, video_url):
    r = httpx.get(video_url, headers={"Range": f"bytes={len(fake.video)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(fake.video)}"


def test_fake_answers_head_with_length_and_etag(fake, video_url):
    r = httpx.head(video_url)
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) == len(fake.video) and r.headers["etag"] == fake.etag


def test_fake_ignores_a_range_whose_if_range_is_stale(fake, video_url):
    r = httpx.get(video_url, headers={"Range": "bytes=10-", "If-Range": '"old"'})
    assert r.status_code == 200 and r.content == fake.video


def test_assets_are_served_without_the_key(fake, video_url):
    """Luma's asset URLs are fetched without the bearer token, so downloads never send it."""
    assert httpx.get(video_url).status_code == 200
