"""The exceptions pixelnb raises.

Every error a person can cause or meet says what was wrong and what to do about it, and
derives from :class:`PixelnbError`, so ``except pixelnb.PixelnbError`` catches them all::

    PixelnbError
    ├── OptionError          a wrong argument (also a ValueError)
    ├── PaletteError         a palette that cannot be built (also a ValueError)
    ├── VideoError           a video that cannot be read (.path, .partial)
    ├── StoreError           the job store cannot be read or written (.path)
    ├── DiskFull             no space left to write a video or an export (.path); resumable
    ├── JobCancelled
    ├── BundleError          a replay bundle that cannot be used (.path); nothing was applied
    ├── OfflineError         a request that would reach Luma while offline, or that is not in
    │                        the bundle in use (.prompt, .request_hash)
    ├── InternalError        a bug in pixelnb: please report it
    └── LumaError            what Luma or the network did (.status_code, .luma_id, .job_id,
        │                    .retry_after, .hint)
        ├── AuthError
        ├── RequestError     (also a ValueError)
        ├── ModerationError
        ├── QuotaError
        ├── LumaUnavailable  resumable
        ├── GenerationFailed
        └── DownloadError    resumable
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixelnb.video import Clip

__all__ = [
    "AuthError",
    "BundleError",
    "DiskFull",
    "DownloadError",
    "GenerationFailed",
    "InternalError",
    "JobCancelled",
    "LumaError",
    "LumaUnavailable",
    "ModerationError",
    "OfflineError",
    "OptionError",
    "PaletteError",
    "PixelnbError",
    "QuotaError",
    "RequestError",
    "StoreError",
    "VideoError",
]


class PixelnbError(Exception):
    """Base class of every error pixelnb raises on purpose."""


class OptionError(PixelnbError, ValueError):
    """An argument is out of range or of the wrong kind (size, colours, dither, ...)."""


class PaletteError(PixelnbError, ValueError):
    """A palette could not be built: unknown preset, bad colour, unreadable file."""


class VideoError(PixelnbError):
    """A video file could not be read: missing, empty, corrupt, truncated or without frames.

    ``path`` names the file. When a truncated file still gave some frames, ``partial``
    holds them as a :class:`~pixelnb.video.Clip`, so nothing already decoded is lost.
    """

    def __init__(self, path: str | PathLike[str], problem: str, *, partial: Clip | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.partial = partial
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem), {"partial": self.partial})


# -- generating with Luma -------------------------------------------------------------------
class _FileProblem(PixelnbError):
    """An error about one file: ``path`` names it, ``problem`` says what is wrong with it."""

    def __init__(self, path: str | PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


class StoreError(_FileProblem):
    """The job store file is locked too long, damaged, or not a job store."""


class DiskFull(PixelnbError, OSError):
    """No space was left to write a file; nothing partial was kept. Free space and resume."""

    def __init__(self, path: str | PathLike[str], what: str = "the file") -> None:
        self.path = str(path)
        self.what = what
        PixelnbError.__init__(
            self,
            f"no space left on the disk to write {what} ({self.path}); nothing partial was kept — "
            "free some space, then resume (pixelnb jobs resume); nothing is paid again",
        )

    def __str__(self) -> str:
        return str(self.args[0])

    @staticmethod
    def caused(exc: OSError) -> bool:
        """Whether an OSError says the disk (or the user's quota) is full."""
        import errno

        return exc.errno in (errno.ENOSPC, errno.EDQUOT)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.what))


class BundleError(_FileProblem):
    """A replay bundle is damaged, altered or from a newer pixelnb; nothing of it was used."""


class OfflineError(PixelnbError):
    """A request would have reached Luma (and could have paid) while ``PIXELNB_OFFLINE`` is
    set, or is missing from the replay bundle in use. Nothing was sent."""

    def __init__(self, message: str, *, prompt: str | None = None, request_hash: str | None = None) -> None:
        self.message = message
        self.prompt = prompt
        self.request_hash = request_hash
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), self.message, {"prompt": self.prompt, "request_hash": self.request_hash}),
        )


def _rebuild(cls: type[OfflineError], message: str, fields: dict[str, Any]) -> OfflineError:
    return cls(message, **fields)


class InternalError(PixelnbError):
    """A bug in pixelnb, not something Luma, the network or the input did."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{message} — this is a bug in pixelnb; please report it with the message")


class LumaError(PixelnbError):
    """Base class of the errors met while generating a video with Luma's Dream Machine.

    Fields a caller can branch on: ``status_code`` (the HTTP answer, if any), ``luma_id``
    (the generation), ``job_id`` (pixelnb's job), ``retry_after`` (seconds Luma asked to
    wait) and ``hint`` (what to do), all kept when the job store rebuilds the error.
    """

    hint = ""
    FIELDS = ("status_code", "luma_id", "job_id", "retry_after")

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        luma_id: str | None = None,
        job_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        if hint is not None:
            self.hint = hint
        self.status_code = status_code
        self.luma_id = luma_id
        self.job_id = job_id
        self.retry_after = retry_after
        super().__init__(f"{message} — {self.hint}" if self.hint else message)

    def fields(self) -> dict[str, Any]:
        """The fields, for storing; None values left out."""
        return {k: getattr(self, k) for k in self.FIELDS if getattr(self, k) is not None}


class AuthError(LumaError):
    """The API key is missing or Luma refused it (HTTP 401/403)."""

    hint = "set LUMAAI_API_KEY (or pass api_key=) to a key from https://lumalabs.ai/dream-machine/api/keys"


class RequestError(LumaError, ValueError):
    """Luma (or pixelnb, before sending) refused the request's options (HTTP 400/422)."""

    hint = "fix the option named in the message and submit again; nothing was charged"


class ModerationError(LumaError):
    """Luma refused the prompt or a keyframe image (the generation failed moderation)."""

    hint = (
        "reword the prompt (no brand names, people's names or IP addresses) or use another "
        "keyframe image; refused generations are not charged"
    )


class QuotaError(LumaError):
    """Rate limit, concurrency limit or credits exhausted (HTTP 429, or a billing refusal)."""

    hint = "wait a minute and resume (pixelnb jobs resume), or check your credits with pixelnb.credits()"


class LumaUnavailable(LumaError):
    """Luma could not be reached or kept failing (network faults, 5xx, or a deadline passed)."""

    hint = "check the network, then resume with pixelnb.resume() or `pixelnb jobs resume`; nothing is lost"


class GenerationFailed(LumaError):
    """Luma reported the generation as failed for a reason other than moderation."""

    hint = "submit again (fresh=True); failed generations are not charged"


class DownloadError(LumaError):
    """The finished video could not be downloaded (refused URL, size cap, wrong type, cut)."""

    hint = "resume the job to retry the download; the generation itself is kept"


class JobCancelled(PixelnbError):
    """The job was cancelled before it finished."""
