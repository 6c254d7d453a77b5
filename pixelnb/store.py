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

from pixelnb.errors import StoreError

__all__ = ["TERMINAL", "JobRecord", "JobStore", "default_cache_dir", "lease_owner"]

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
    outputs TEXT NOT NULL DEFAULT '[]',
    kind TEXT NOT NULL DEFAULT 'video',
    error_hint TEXT,
    error_fields TEXT,
    lease_owner TEXT,
    lease_until REAL,
    echo TEXT
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
    kind: str = "video"  # which kind of request (pixelnb.luma.REQUEST_KINDS) the job follows
    error_hint: str | None = None
    error_fields: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = None
    lease_until: float | None = None
    echo: str | None = None  # the request Luma echoed with the finished generation (JSON)

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
    "kind",
    "error_hint",
    "error_fields",
    "lease_owner",
    "lease_until",
    "echo",
)
# Columns added after the first release, with their types: older stores gain them.
_ADDED = {
    "kind": "TEXT NOT NULL DEFAULT 'video'",
    "error_hint": "TEXT",
    "error_fields": "TEXT",
    "lease_owner": "TEXT",
    "lease_until": "REAL",
    "echo": "TEXT",
}
BUSY_SECONDS = 10.0  # how long a call waits for another process's write before giving up
LEASE_SECONDS = 30.0  # a follower renews its lease well within this; a dead one loses it


class JobStore:
    """A SQLite file of jobs, at ``path`` or ``<cache>/jobs.sqlite3``; videos beside it."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, busy_seconds: float = BUSY_SECONDS
    ) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "jobs.sqlite3"
        self.busy_seconds = busy_seconds
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(self.path, f"its folder cannot be made ({exc.strerror or exc})") from None
        self.video_dir = self.path.parent / "videos"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            have = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
            if have and not {"id", "request", "request_hash", "state", "history"} <= have:
                raise sqlite3.DatabaseError("its jobs table is not pixelnb's")
            db.executescript(_SCHEMA)
            have = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED.items():
                if name not in have:
                    db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A short connection; sqlite's failures become a :class:`StoreError` that names the
        file and says what to do (another process holding it, a damaged file, a full disk)."""
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(self.path, f"cannot be opened ({exc}); check the path") from None
        try:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" in text or "busy" in text:
                raise StoreError(
                    self.path,
                    f"another process has held the job store for over {self.busy_seconds:g} s; "
                    "try again when it is done (its jobs are safe)",
                ) from None
            if "disk is full" in text or "disk i/o" in text:
                raise StoreError(
                    self.path, "no space left on its disk; free some space and resume (nothing is lost)"
                ) from None
            raise StoreError(self.path, f"the job store failed ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                self.path,
                f"is not a pixelnb job store or is damaged ({exc}); move it aside (pixelnb starts a "
                "new one) or pass another --store",
            ) from None
        finally:
            db.close()

    @staticmethod
    def _row(row: tuple[Any, ...]) -> JobRecord:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["history"] = [tuple(h) for h in json.loads(d["history"])]
        d["outputs"] = json.loads(d["outputs"])
        d["error_fields"] = json.loads(d["error_fields"] or "{}")
        return JobRecord(**d)

    @staticmethod
    def _encode(fields: dict[str, Any]) -> dict[str, Any]:
        for name in ("outputs", "error_fields", "history"):
            if name in fields and not isinstance(fields[name], str):
                fields[name] = json.dumps(fields[name])
        return fields

    def add(self, rec: JobRecord) -> JobRecord:
        values = list(self._encode({c: getattr(rec, c) for c in _COLUMNS}).values())
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
        self._encode(fields)
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
            self._encode(fields)
            fields.update(state=state, history=json.dumps(history), updated_at=now)
            sets = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))
            db.execute("COMMIT")
        return now

    def all(self) -> list[JobRecord]:
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created_at").fetchall()
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

    # -- leases: one process follows a job, the others observe -------------------------------
    def acquire(self, job_id: str, owner: str, seconds: float = LEASE_SECONDS) -> bool:
        """Take (or renew) the lease on a job: True when ``owner`` now holds it.

        A lease is free when nobody holds it, when it has expired (its holder stopped
        renewing: it died or hung), or when its holder is a process of this machine that
        no longer runs.
        """
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT lease_owner, lease_until FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return False
            holder, until = row
            free = holder is None or holder == owner or (until or 0) < now or not _alive(holder)
            if free:
                db.execute(
                    "UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    (owner, now + seconds, job_id),
                )
            db.execute("COMMIT")
        return bool(free)

    def release(self, job_id: str, owner: str) -> None:
        """Give the lease up (when the job has ended here)."""
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                (job_id, owner),
            )


def lease_owner() -> str:
    """A name for this process's leases: host, pid and a random part."""
    import socket
    import uuid

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(owner: str) -> bool:
    """Whether a lease holder of this machine still runs (one of another machine: assume so)."""
    import socket

    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
