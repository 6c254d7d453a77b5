"""The job store: one SQLite file (stdlib sqlite3, WAL) that is the source of truth.

Every job's request, Luma id, state history, error, video path and hash are written as
they happen, so a kernel restart or a crash loses nothing and :func:`pixelnb.resume`
can carry unfinished jobs to the end. Each call opens its own short connection, which
makes the store safe from any thread and from several processes at once. The API key is
never written here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["STATES", "TERMINAL", "JobRecord", "JobStore", "default_cache_dir"]

STATES = (
    "pending",
    "queued",
    "dreaming",
    "downloading",
    "sampling",
    "pixelating",
    "completed",
    "failed",
    "cancelled",
)
TERMINAL = frozenset({"completed", "failed", "cancelled"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    request TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    pixel TEXT NOT NULL,
    luma_id TEXT,
    state TEXT NOT NULL,
    history TEXT NOT NULL,
    error_type TEXT,
    error TEXT,
    video_url TEXT,
    video_path TEXT,
    video_sha256 TEXT,
    outputs TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_hash ON jobs(request_hash);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


def default_cache_dir() -> Path:
    """``PIXELNB_CACHE``, else the platform's per-user cache folder, plus ``pixelnb``."""
    env = os.environ.get("PIXELNB_CACHE")
    if env:
        return Path(env).expanduser()
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "pixelnb"


@dataclass
class JobRecord:
    """One row of the store."""

    id: str
    request: str  # GenerationRequest JSON
    request_hash: str
    pixel: str  # pixel options JSON
    state: str = "pending"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    luma_id: str | None = None
    history: list[tuple[str, float, str]] = field(default_factory=list)
    error_type: str | None = None
    error: str | None = None
    video_url: str | None = None
    video_path: str | None = None
    video_sha256: str | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @property
    def prompt(self) -> str:
        return str(json.loads(self.request).get("prompt") or "")


_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "request",
    "request_hash",
    "pixel",
    "luma_id",
    "state",
    "history",
    "error_type",
    "error",
    "video_url",
    "video_path",
    "video_sha256",
    "outputs",
)


class JobStore:
    """A SQLite file of jobs, at ``path`` or ``<cache>/jobs.sqlite3``; videos beside it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "jobs.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.video_dir = self.path.parent / "videos"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    @staticmethod
    def _row(row: tuple[Any, ...]) -> JobRecord:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["history"] = [tuple(h) for h in json.loads(d["history"])]
        d["outputs"] = json.loads(d["outputs"])
        return JobRecord(**d)

    def add(self, rec: JobRecord) -> JobRecord:
        values = [getattr(rec, c) for c in _COLUMNS]
        values[_COLUMNS.index("history")] = json.dumps(rec.history)
        values[_COLUMNS.index("outputs")] = json.dumps(rec.outputs)
        with self._db() as db:
            db.execute(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
            )
        return rec

    def get(self, job_id: str) -> JobRecord | None:
        with self._db() as db:
            row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(row) if row else None

    def update(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        if "outputs" in fields:
            fields["outputs"] = json.dumps(fields["outputs"])
        fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def set_state(self, job_id: str, state: str, detail: str = "", **fields: Any) -> float:
        """Record a state change (appended to the history) in one transaction."""
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            (hist,) = db.execute("SELECT history FROM jobs WHERE id = ?", (job_id,)).fetchone()
            history = json.loads(hist)
            history.append([state, now, detail])
            fields.update(state=state, history=json.dumps(history), updated_at=now)
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            db.execute("COMMIT")
        return now

    def all(self) -> list[JobRecord]:
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created_at").fetchall()
        return [self._row(r) for r in rows]

    def unfinished(self) -> list[JobRecord]:
        placeholders = ", ".join("?" * len(TERMINAL))
        with self._db() as db:
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE state NOT IN ({placeholders}) "
                "ORDER BY created_at",
                tuple(TERMINAL),
            ).fetchall()
        return [self._row(r) for r in rows]

    def with_hash(self, request_hash: str) -> list[JobRecord]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE request_hash = ? ORDER BY created_at DESC",
                (request_hash,),
            ).fetchall()
        return [self._row(r) for r in rows]

    def luma_ids(self) -> set[str]:
        with self._db() as db:
            return {r[0] for r in db.execute("SELECT luma_id FROM jobs WHERE luma_id IS NOT NULL")}
