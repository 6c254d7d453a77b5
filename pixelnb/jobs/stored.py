"""A stored job's error: what is kept of it, and the typed error rebuilt from the store."""

from __future__ import annotations

from typing import Any

from pixelnb import errors as _errors
from pixelnb.errors import LumaError, PixelnbError
from pixelnb.store import JobRecord

__all__ = ["error_fields", "error_from"]


def error_fields(err: PixelnbError) -> dict[str, Any]:
    """What to store of an error besides its text: its hint and the fields to branch on."""
    if isinstance(err, LumaError):
        return {"error_hint": err.hint or None, "error_fields": err.fields()}
    keep = {k: getattr(err, k) for k in ("path", "problem", "what") if isinstance(getattr(err, k, None), str)}
    return {"error_hint": None, "error_fields": keep}


def error_from(rec: JobRecord) -> PixelnbError | None:
    """The error a stored job failed with, rebuilt as its own type with its hint and fields."""
    if not rec.error:
        return None
    cls = getattr(_errors, rec.error_type or "", None)
    if not (isinstance(cls, type) and issubclass(cls, PixelnbError)):
        return PixelnbError(rec.error)
    err = cls.__new__(cls)
    Exception.__init__(err, rec.error)
    if isinstance(err, LumaError):
        hint = rec.error_hint or ""
        err.hint = hint
        err.message = rec.error.removesuffix(f" — {hint}") if hint else rec.error
        for name in LumaError.FIELDS:
            setattr(err, name, rec.error_fields.get(name))
    elif isinstance(err, _errors.InternalError):
        err.message = rec.error
    else:
        for name, value in rec.error_fields.items():
            setattr(err, name, value)
    return err
