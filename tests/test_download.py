import asyncio
import hashlib

import pytest

from conftest import finished
from pixelnb.download import check_url, download
from pixelnb.errors import DownloadError


@pytest.fixture
def video_url(fake):
    return finished(fake)["assets"]["video"]


def test_downloads_into_a_content_addressed_file(fake, video_url, tmp_path):
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True))
    assert got.sha256 == hashlib.sha256(fake.video).hexdigest()
    assert got.path == tmp_path / f"{got.sha256}.mp4" and got.path.read_bytes() == fake.video
    assert [p.name for p in tmp_path.iterdir()] == [got.path.name], "no partial file is left behind"


def test_a_dropped_download_resumes_with_range(fake, video_url, tmp_path):
    fake.inject("truncate", on="download")
    got = asyncio.run(download(video_url, tmp_path, allow_http_loopback=True))
    assert got.path.read_bytes() == fake.video
    assert got.sha256 == hashlib.sha256(fake.video).hexdigest()
    assert sum(1 for m, p in fake.requests if p.startswith("/assets/")) == 2
    # The second request asked for the rest only, and got it as a 206 Partial Content.
    first, second = fake.ranges
    assert first is None and second is not None and second.startswith("bytes=")
    assert 0 < int(second[6:].rstrip("-")) < len(fake.video)


@pytest.mark.parametrize(
    "url", ["http://example.com/v.mp4", "ftp://example.com/v.mp4", "file:///etc/passwd", "v.mp4"]
)
def test_only_https_is_accepted(url):
    with pytest.raises(DownloadError, match="https only"):
        check_url(url, allow_http_loopback=True)


def test_loopback_http_needs_permission(video_url, tmp_path):
    with pytest.raises(DownloadError, match="https only"):
        asyncio.run(download(video_url, tmp_path))


def test_size_cap(video_url, tmp_path):
    with pytest.raises(DownloadError, match="cap"):
        asyncio.run(download(video_url, tmp_path, allow_http_loopback=True, max_bytes=1000))
    assert list(tmp_path.iterdir()) == []


def test_wrong_content_type(fake, tmp_path):
    url = fake.base_url.replace("/dream-machine/v1", "") + "/dream-machine/v1/ping"
    with pytest.raises(DownloadError, match="not a video"):
        asyncio.run(download(url, tmp_path, allow_http_loopback=True))


def test_missing_file_is_a_download_error(fake, tmp_path):
    url = f"http://127.0.0.1:{fake.port}/assets/00000000-0000-0000-0000-000000000000.mp4"
    with pytest.raises(DownloadError, match="HTTP 404"):
        asyncio.run(download(url, tmp_path, allow_http_loopback=True))
