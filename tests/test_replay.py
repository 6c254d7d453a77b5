"""Replay bundles: a notebook's generations packed, replayed with no key and no network,
and refused whole when damaged; PIXELNB_OFFLINE refuses anything that would reach Luma."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

import pixelnb
from pixelnb import BundleError, OfflineError
from pixelnb.jobs import generate
from pixelnb.replay import active_bundle, open_bundle, use_bundle
from pixelnb.store import JobStore

PIXEL = {"size": 24, "colors": 6, "fps": 4}
DEAD = "http://127.0.0.1:9"  # nothing listens: any request to it fails


@pytest.fixture(autouse=True)
def no_bundle(monkeypatch):
    monkeypatch.delenv("LUMAAI_API_KEY", raising=False)
    monkeypatch.delenv("PIXELNB_BUNDLE", raising=False)
    monkeypatch.delenv("PIXELNB_OFFLINE", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    use_bundle(None)
    yield
    use_bundle(None)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def made(make_manager, fake, tmp_path):
    """Two generations made against the fake, their GIFs, and a bundle of them."""
    m = make_manager(tmp_path / "first" / "jobs.sqlite3")
    jobs = [generate(p, manager=m, pixel=PIXEL) for p in ("a knight", "a dragon")]
    gifs = [j.result(30).save(tmp_path / f"{i}.gif") for i, j in enumerate(jobs)]
    path = pixelnb.bundle(tmp_path / "nb.pixelnb.zip", manager=m)  # every job submitted here
    assert fake.creates == 2
    return path, gifs


def offline_manager(make_manager, tmp_path, name="second"):
    """A manager on an empty store, with no key and no server."""
    return make_manager(tmp_path / name / "jobs.sqlite3", key=None, base_url=DEAD)


def test_a_bundle_replays_with_no_key_no_server_and_the_same_files(made, make_manager, fake, tmp_path):
    path, gifs = made
    use_bundle(path)
    m = offline_manager(make_manager, tmp_path)
    before = len(fake.requests)
    for i, prompt in enumerate(("a knight", "a dragon")):
        sprite = generate(prompt, manager=m, pixel=PIXEL).result(30)
        assert sha(sprite.save(tmp_path / f"replayed{i}.gif")) == sha(gifs[i])
        assert pixelnb.provenance(tmp_path / f"replayed{i}.gif")["generation"]["prompt"] == prompt
    assert fake.creates == 2 and len(fake.requests) == before  # not one call reached the server
    # content-addressed: the fake serves one clip for every prompt, so one file serves both
    (video,) = (tmp_path / "second" / "videos").glob("*.mp4")
    assert video.stem == sha(video)


def test_a_request_not_in_the_bundle_is_refused_instead_of_paid(made, make_manager, fake, tmp_path):
    path, _ = made
    use_bundle(path)
    m = make_manager(tmp_path / "other" / "jobs.sqlite3")  # has a key: it could pay
    with pytest.raises(OfflineError, match=r"'a knight in red' is not in the bundle nb\.pixelnb\.zip") as err:
        generate("a knight in red", manager=m, pixel=PIXEL)
    assert err.value.prompt == "a knight in red" and fake.creates == 2
    with pytest.raises(OfflineError, match="not in the bundle"):
        generate("a knight", manager=m, pixel=PIXEL, fresh=True)  # a new take is a new generation
    # pixel options are not part of the request: other colours replay from the same video
    generate("a knight", manager=m, pixel={**PIXEL, "colors": 3}).result(30)
    use_bundle(path, strict=False)
    generate("a knight in red", manager=m, pixel=PIXEL).result(30)
    assert fake.creates == 3


def test_pixelnb_bundle_names_a_bundle_from_the_environment(made, make_manager, monkeypatch, tmp_path):
    path, gifs = made
    monkeypatch.setenv("PIXELNB_BUNDLE", str(path))
    assert len(active_bundle() or []) == 2
    m = offline_manager(make_manager, tmp_path)
    sprite = generate("a dragon", manager=m, pixel=PIXEL).result(30)
    assert sha(sprite.save(tmp_path / "d.gif")) == sha(gifs[1])
    monkeypatch.setenv("PIXELNB_BUNDLE", str(tmp_path / "missing.zip"))
    with pytest.raises(BundleError, match="PIXELNB_BUNDLE names no bundle file"):
        generate("a dragon", manager=offline_manager(make_manager, tmp_path, "third"), pixel=PIXEL)


def test_offline_refuses_every_request_that_would_reach_luma(make_manager, fake, monkeypatch, tmp_path):
    m = make_manager()
    monkeypatch.setenv("PIXELNB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="PIXELNB_OFFLINE is set, so creating the generation 'a cat'"):
        generate("a cat", manager=m, pixel=PIXEL)
    assert fake.creates == 0 and fake.requests == []
    monkeypatch.delenv("PIXELNB_OFFLINE")
    generate("a cat", manager=m, pixel=PIXEL).result(30)
    monkeypatch.setenv("PIXELNB_OFFLINE", "1")
    generate("a cat", manager=m, pixel={**PIXEL, "colors": 3}).result(30)  # from the cache: fine
    assert fake.creates == 1


def test_offline_stops_a_resumed_job_before_it_reaches_luma(make_manager, fake, monkeypatch, tmp_path):
    from pixelnb.luma import GenerationRequest
    from pixelnb.store import JobRecord

    store = JobStore(tmp_path / "r.sqlite3")
    request = GenerationRequest.build("a cat")
    rec = JobRecord(id="f" * 32, request=request.to_json(), request_hash=request.key(), pixel="{}")
    rec.history = [("pending", rec.created_at, "")]
    store.add(rec)  # a job a killed kernel left before its create
    monkeypatch.setenv("PIXELNB_OFFLINE", "1")
    (job,) = make_manager(store).resume()
    with pytest.raises(OfflineError, match="cannot reach Luma"):
        job.result(30)
    assert fake.requests == []


def test_bundles_are_byte_identical_and_content_addressed(made, make_manager, tmp_path):
    path, _ = made
    m = make_manager(tmp_path / "first" / "jobs.sqlite3")
    again = pixelnb.bundle(tmp_path / "again.zip", jobs=[r.id for r in m.store.all()], manager=m)
    assert sha(again) == sha(path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for entry in manifest["requests"]:
            assert entry["object"] == f"objects/{entry['sha256']}"
            assert hashlib.sha256(zf.read(entry["object"])).hexdigest() == entry["sha256"]
    assert {e["request"]["prompt"] for e in manifest["requests"]} == {"a knight", "a dragon"}
    assert manifest["format"] == 1 and manifest["pixelnb"] == pixelnb.__version__


def rewrite(src: Path, dst: Path, change) -> Path:
    """A copy of a bundle with ``change(name, data) -> data`` applied to every entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))
    return dst


def newer(name: str, data: bytes) -> bytes:
    if name != "manifest.json":
        return data
    manifest = json.loads(data)
    manifest.update(format=2, pixelnb="9.0")
    return json.dumps(manifest).encode()


def swapped(name: str, data: bytes) -> bytes:
    return data[:-100] + bytes(100) if name.startswith("objects/") else data


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncated", "is not a readable zip"),
        ("swapped", "does not match its sha256"),
        ("newer", "made by pixelnb 9.0 in bundle format 2; this pixelnb .* upgrade pixelnb"),
        ("not a bundle", "is not a pixelnb bundle"),
    ],
)
def test_a_bad_bundle_is_refused_and_nothing_is_applied(made, make_manager, tmp_path, damage, message):
    path, _ = made
    bad = tmp_path / "bad.zip"
    if damage == "truncated":
        bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "swapped":
        rewrite(path, bad, swapped)
    elif damage == "newer":
        rewrite(path, bad, newer)
    else:
        with zipfile.ZipFile(bad, "w") as zf:
            zf.writestr("notes.txt", "hello")
    good = use_bundle(path)
    with pytest.raises(BundleError, match=message) as err:
        use_bundle(bad)
    assert err.value.path == str(bad)
    assert active_bundle() is good  # the bundle in use is still the good one
    m = offline_manager(make_manager, tmp_path)
    generate("a knight", manager=m, pixel=PIXEL).result(30)
    with pytest.raises(BundleError):
        open_bundle(bad)


def test_bundling_a_job_that_has_not_finished_says_so(make_manager, fake, tmp_path):
    m = make_manager()
    job = generate("a slow cat", manager=m, pixel=PIXEL)  # still queued when bundled
    with pytest.raises(BundleError, match="has no finished video in the cache"):
        pixelnb.bundle(tmp_path / "b.zip", jobs=[job], manager=m)
    assert not (tmp_path / "b.zip").exists() and not list(tmp_path.glob(".b.zip*"))
    job.cancel()
    with pytest.raises(BundleError, match="no job was submitted"):
        pixelnb.bundle(tmp_path / "c.zip", manager=make_manager(tmp_path / "x.sqlite3"))
