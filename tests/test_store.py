import sqlite3
import threading

import pytest

from pixelnb.store import JobRecord, JobStore, default_cache_dir


def rec(i: int = 0, **kw) -> JobRecord:
    return JobRecord(id=f"job{i}", request='{"prompt": "a cat"}', request_hash="h", pixel="{}", **kw)


def test_store_is_a_wal_sqlite_file(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.add(rec())
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_records_round_trip_with_history(tmp_path):
    store = JobStore(tmp_path / "j.sqlite3")
    store.add(rec(history=[("pending", 1.0, "")]))
    store.set_state("job0", "queued", "gen-1", luma_id="gen-1")
    store.update("job0", outputs=["/out/a.gif"])
    got = store.get("job0")
    assert got.state == "queued" and got.luma_id == "gen-1" and got.outputs == ["/out/a.gif"]
    assert [h[0] for h in got.history] == ["pending", "queued"] and got.prompt == "a cat"


def test_a_new_store_object_sees_everything(tmp_path):
    JobStore(tmp_path / "j.sqlite3").add(rec(1))
    JobStore(tmp_path / "j.sqlite3").add(rec(2, state="completed"))
    again = JobStore(tmp_path / "j.sqlite3")
    assert [r.id for r in again.all()] == ["job1", "job2"]
    assert [r.id for r in again.all() if not r.finished] == ["job1"]
    assert {r.id for r in again.with_hash("h")} == {"job1", "job2"}


def test_concurrent_writers_lose_nothing(tmp_path):
    store = JobStore(tmp_path / "j.sqlite3")
    for i in range(8):
        store.add(rec(i, history=[]))

    def work(i: int) -> None:
        for n in range(25):
            store.set_state(f"job{i % 8}", "dreaming", f"{i}-{n}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.history) for r in store.all()) == 16 * 25


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXELNB_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    assert JobStore().path == tmp_path / "c" / "jobs.sqlite3"


def test_a_store_of_the_first_release_gains_the_new_columns(tmp_path):
    """A store written before kinds, leases and error fields still opens, its jobs as videos."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
            " request TEXT NOT NULL, request_hash TEXT NOT NULL, pixel TEXT NOT NULL, luma_id TEXT,"
            " state TEXT NOT NULL, history TEXT NOT NULL, error_type TEXT, error TEXT, video_url TEXT,"
            " video_path TEXT, video_sha256 TEXT, outputs TEXT NOT NULL DEFAULT '[]')"
        )
        db.execute(
            "INSERT INTO jobs (id, created_at, updated_at, request, request_hash, pixel, state, history)"
            " VALUES ('old', 1, 1, '{}', 'h', '{}', 'failed', '[]')"
        )
    got = JobStore(path).get("old")
    assert got is not None and got.kind == "video" and got.error_fields == {} and got.lease_owner is None


def test_a_job_of_an_unknown_kind_says_so():
    from pixelnb.errors import RequestError
    from pixelnb.luma import REQUEST_KINDS, GenerationRequest, ImageRequest, ModifyRequest, request_from_json

    assert {"video": GenerationRequest, "image": ImageRequest, "modify_video": ModifyRequest} == REQUEST_KINDS
    for kind, cls in REQUEST_KINDS.items():  # each kind comes back as itself from the store
        made = ImageRequest.build_image("a knight", style_ref=[("https://e.org/s.png", 0.5)], take=2)
        if cls is GenerationRequest:
            made = GenerationRequest.build("a knight walking")
        elif cls is ModifyRequest:
            made = ModifyRequest(prompt="as pixel art", media="https://e.org/v.mp4")
        back = request_from_json(kind, made.to_json())
        assert type(back) is cls and back == made and back.key() == made.key()
    with pytest.raises(RequestError, match="'sculpture' job"):
        request_from_json("sculpture", "{}")
