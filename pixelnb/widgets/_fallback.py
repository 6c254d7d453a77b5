"""Static fallbacks for widgets: what a reopened notebook, nbconvert and GitHub show.

JupyterLab and Notebook 7 save widget state only when a user turns "Save widget state"
on; otherwise a reopened notebook has a widget view whose model is gone, and they show
"Error displaying widget: model not found" even when the same output carries an image.
So a pixelnb widget is displayed as two outputs: the widget view, and a fallback output
(an animated GIF for a Sprite, a contact sheet for a FrameGrid) that the widget updates
when its picture changes. A small stylesheet in the fallback hides whichever of the two
is not needed: the fallback while the live widget is on the page (its root carries the
``pixelnb-live`` class), the dead widget view when it is not. Where styles are stripped
(an untrusted notebook, GitHub) both show, and the picture is still there.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FALLBACK_STYLE", "LIVE_CLASS", "FallbackMixin"]

LIVE_CLASS = "pixelnb-live"
FALLBACK_STYLE = (
    "<style>"
    f".jp-OutputArea-child:has(.{LIVE_CLASS}) + .jp-OutputArea-child:has(.pixelnb-fallback)"
    "{display:none}"
    f".jp-OutputArea-child:has(+ .jp-OutputArea-child .pixelnb-fallback):not(:has(.{LIVE_CLASS}))"
    "{display:none}"
    "</style>"
)


class FallbackMixin:
    """Displays a widget with its fallback output and keeps that output current."""

    _handles: list[Any]

    def _fallback_sprite(self) -> Any:
        return getattr(self, "sprite", None)

    def _fallback_bundle(self) -> dict[str, Any]:
        """The picture: ``text/html`` and ``image/png`` (empty when there is none yet)."""
        sprite = self._fallback_sprite()
        if sprite is None:
            return {}
        return {"text/html": sprite._repr_html_(), "image/png": sprite._repr_png_()}

    def _fallback_metadata(self) -> dict[str, Any]:
        sprite = self._fallback_sprite()
        return dict(sprite._output_metadata()) if sprite is not None else {}

    def fallback(self) -> dict[str, Any]:
        """The fallback output's bundle, as a notebook saves it."""
        picture = self._fallback_bundle()
        html = f'<div class="pixelnb-fallback">{FALLBACK_STYLE}{picture.get("text/html", "")}</div>'
        bundle: dict[str, Any] = {"text/html": html, "text/plain": ""}
        if "image/png" in picture:
            bundle["image/png"] = picture["image/png"]
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        data = self._repr_mimebundle_()  # type: ignore[attr-defined]
        data, meta = data if isinstance(data, tuple) else (data, {})
        display(data, metadata=meta, raw=True)  # type: ignore[no-untyped-call]
        handle = display(  # type: ignore[no-untyped-call]
            self.fallback(), raw=True, display_id=True, metadata=self._fallback_metadata()
        )
        if not hasattr(self, "_handles"):
            self._handles = []
        self._handles.append(handle)

    def _refresh_fallback(self) -> None:
        handles = getattr(self, "_handles", [])
        if handles:
            bundle = self.fallback()
            meta = self._fallback_metadata()
            for handle in handles:
                handle.update(bundle, raw=True, metadata=meta)
