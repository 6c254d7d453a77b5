"""A password field whose value stays in the kernel (never a synced trait)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["KeyField"]

KEY_SET = "key set (kept in this kernel only)"


class KeyField(anywidget.AnyWidget):
    """Asks for the Luma API key, labelled, when ``LUMAAI_API_KEY`` is not set.

    The browser sends the key once as a custom message and clears the box; only ``asking``
    and ``status`` are synced, so widget state and saved notebooks never hold the key.
    Once a key is taken the box gives way to a lasting confirmation; :meth:`ask` brings the
    box back (after Luma refused the key).
    """

    _esm = Path(__file__).with_name("keyfield.js")
    _css = Path(__file__).with_name("player.css")
    asking = traitlets.Bool(True).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(self, on_key: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_key = on_key
        self.on_msg(self._handle)

    def ask(self, why: str = "") -> None:
        """Show the box again, saying why."""
        with self.hold_sync():
            self.asking, self.status = True, why

    def taken(self, status: str = KEY_SET) -> None:
        with self.hold_sync():
            self.asking, self.status = False, status

    def _handle(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("kind") == "api-key":
            key = str(content.get("value") or "").strip()
            if key:
                self._on_key(key)
                self.taken()
