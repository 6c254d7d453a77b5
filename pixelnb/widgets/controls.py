"""The Studio's own controls, as small anywidgets: a button that disables itself in the
browser, one jobs table, and download links that fetch their file on click.

Each does in the browser what an ipywidgets control can only do after a round trip to the
kernel, and keeps widget state small: the table holds rows of text, the links hold names
(the file bytes travel only when clicked, as one binary message).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["ActionButton", "Downloads", "JobTable"]

_HERE = Path(__file__).parent


class ActionButton(anywidget.AnyWidget):
    """A button that is disabled in the browser the moment it is clicked, and enabled
    again when its handler has run in the kernel: a double click is one click.

    >>> b = ActionButton("Generate")
    >>> b.label, b.disabled
    ('Generate', False)
    """

    _esm = _HERE / "action.js"
    _css = _HERE / "player.css"
    label = traitlets.Unicode("").tag(sync=True)
    primary = traitlets.Bool(False).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, label: str, *, primary: bool = False, **kwargs: Any) -> None:
        super().__init__(label=label, primary=primary, **kwargs)
        self._handlers: list[Callable[[], object]] = []
        self.on_msg(self._handle)

    def on_click(self, handler: Callable[[], object]) -> None:
        self._handlers.append(handler)

    def click(self) -> None:
        """Run the handlers, as a click does (then tell the browser it may click again)."""
        try:
            for handler in self._handlers:
                handler()
        finally:
            self.send({"type": "done"})

    def _handle(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "click":
            self.click()


class JobTable(anywidget.AnyWidget):
    """The jobs, one row each (id, prompt, state, stage, progress, elapsed, Luma id);
    clicking a row selects it (``selected`` is the job id)."""

    _esm = _HERE / "jobtable.js"
    _css = _HERE / "player.css"
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)


class Downloads(anywidget.AnyWidget):
    """Links to exported files. Only their names are widget state; a click asks the
    kernel for the bytes, which arrive as one binary message and are saved by the browser."""

    _esm = _HERE / "downloads.js"
    _css = _HERE / "player.css"
    files = traitlets.List(traitlets.Dict()).tag(sync=True)  # {"name", "size", "mime"}
    folder = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._paths: dict[str, Path] = {}
        self.on_msg(self._handle)

    def offer(self, paths: list[Path]) -> None:
        """Show links to these files (replacing the ones before)."""
        self._paths = {p.name: p for p in paths}
        self.folder = str(paths[0].parent) if paths else ""
        self.files = [
            {
                "name": p.name,
                "size": p.stat().st_size,
                "mime": mimetypes.guess_type(p.name)[0] or "application/octet-stream",
            }
            for p in paths
        ]

    def clear(self) -> None:
        self.offer([])

    def _handle(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not (isinstance(content, dict) and content.get("type") == "get"):
            return
        name = str(content.get("name", ""))
        path = self._paths.get(name)
        if path is None or not path.is_file():
            self.send({"type": "missing", "name": name})
            return
        self.send(
            {"type": "file", "name": name, "mime": mimetypes.guess_type(name)[0] or ""}, [path.read_bytes()]
        )
