"""A password field whose value stays in the kernel (never a synced trait)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["KeyField"]


class KeyField(anywidget.AnyWidget):
    """Asks for the Luma API key when ``LUMAAI_API_KEY`` is not set.

    The browser sends the key once as a custom message and clears the box; only
    ``status`` is synced, so widget state and saved notebooks never hold the key.
    """

    _esm = Path(__file__).with_name("keyfield.js")
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, on_key: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_key = on_key
        self.on_msg(self._handle)

    def _handle(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "api-key":
            key = str(content.get("value") or "").strip()
            if key:
                self._on_key(key)
                self.status = "key set for this kernel session"
