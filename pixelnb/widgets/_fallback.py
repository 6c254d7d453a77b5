"""Static fallbacks for widgets: what nbconvert, GitHub and a reopened notebook show.

Every display of a pixelnb widget carries, beside the widget view, the Sprite as an
animated GIF (text/html) and a PNG contact sheet (image/png). A widget remembers the
display handles it was shown with, and updates them when its Sprite changes (a job
finished), so the saved notebook holds the final result.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FallbackMixin"]


class FallbackMixin:
    """Adds the fallback to ``_repr_mimebundle_`` and keeps displayed copies current."""

    _handles: list[Any]

    def _fallback_sprite(self) -> Any:
        return getattr(self, "sprite", None)

    def _fallback_bundle(self) -> dict[str, Any]:
        sprite = self._fallback_sprite()
        if sprite is None:
            return {}
        return {"text/html": sprite._repr_html_(), "image/png": sprite._repr_png_()}

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if isinstance(bundle, tuple):
            data, meta = bundle
        else:
            data, meta = bundle, {}
        if data is None:
            return bundle
        data = {**self._fallback_bundle(), **data}
        return (data, meta) if isinstance(bundle, tuple) else data

    def _ipython_display_(self) -> None:
        from IPython.display import display

        data = self._repr_mimebundle_()
        data, meta = data if isinstance(data, tuple) else (data, {})
        handle = display(data, metadata=meta, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        if not hasattr(self, "_handles"):
            self._handles = []
        self._handles.append(handle)

    def _refresh_fallback(self) -> None:
        for handle in getattr(self, "_handles", []):
            data = self._repr_mimebundle_()
            data, meta = data if isinstance(data, tuple) else (data, {})
            handle.update(data, metadata=meta, raw=True)
