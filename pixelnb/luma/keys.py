"""Where the API key comes from: ``api_key=``, else ``LUMAAI_API_KEY``, else a ``.env`` file."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resolve_api_key"]


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.removeprefix("export ").split("=", 1)
        values[k.strip()] = v.strip().strip("'\"")
    return values


def resolve_api_key(api_key: str | None = None, dotenv: Path | None = None) -> str | None:
    """The key from the argument, else ``LUMAAI_API_KEY``, else a ``.env`` file (cwd)."""
    if api_key:
        return api_key
    if os.environ.get("LUMAAI_API_KEY"):
        return os.environ["LUMAAI_API_KEY"]
    return _read_dotenv(dotenv or Path.cwd() / ".env").get("LUMAAI_API_KEY") or None
