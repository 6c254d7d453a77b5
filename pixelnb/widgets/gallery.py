"""The Gallery: a sweep's results as a grid of players, labelled and filtered by parameter."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import ipywidgets as W

from pixelnb.jobs.sweeps import SweepItem, SweepResult
from pixelnb.widgets.player import Player

__all__ = ["Gallery"]

ANY = "all"


def _label(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


class Gallery(W.VBox):  # type: ignore[misc]
    """A grid of :class:`Player` widgets, one per result, each labelled by its parameters;
    a dropdown per parameter that varies shows only the results with that value.

    ``gallery.show(colors=8)`` sets the filters from code; ``gallery.visible`` lists what is
    shown; :meth:`to_html` is the same grid as a static page.
    """

    def __init__(self, results: SweepResult | Iterable[SweepItem], *, zoom: int = 3) -> None:
        self.items = [i for i in results if i.sprite is not None]
        self.failed = [i for i in results if i.sprite is None]
        names: list[str] = []
        for item in self.items:
            names += [k for k in item.params if k not in names]
        self.varying = [
            k for k in names if len({_label(i.params.get(k)) for i in self.items}) > 1
        ]  # only parameters that differ are worth a filter or a label
        self.filters: dict[str, W.Dropdown] = {}
        for name in self.varying:
            values = sorted({_label(i.params.get(name)) for i in self.items})
            dd = W.Dropdown(options=[ANY, *values], value=ANY, description=name)
            dd.observe(lambda _change: self._apply(), names="value")
            self.filters[name] = dd
        self.cards: list[W.VBox] = []
        for item in self.items:
            text = " · ".join(f"{k}={_label(item.params.get(k))}" for k in self.varying) or "result"
            assert item.sprite is not None
            player = Player(item.sprite, zoom=zoom)
            self.cards.append(W.VBox([W.HTML(f"<small>{html.escape(text)}</small>"), player]))
        self.grid = W.GridBox(
            children=list(self.cards),
            layout=W.Layout(grid_template_columns="repeat(auto-fill, minmax(220px, 1fr))", grid_gap="8px"),
        )
        notes = [f"{html.escape(_label(i.params))}: {html.escape(i.error or '')}" for i in self.failed]
        header = W.HTML(f"<b>{len(self.items)} results</b>" + "".join(f"<br>failed: {n}" for n in notes))
        super().__init__([header, W.HBox(list(self.filters.values())), self.grid])

    def _shown(self, item: SweepItem) -> bool:
        return all(
            dd.value == ANY or _label(item.params.get(k)) == dd.value for k, dd in self.filters.items()
        )

    def _apply(self) -> None:
        self.grid.children = [c for c, i in zip(self.cards, self.items, strict=True) if self._shown(i)]

    def show(self, **params: Any) -> Gallery:
        """Filter to these parameter values (``"all"`` clears one)."""
        for name, value in params.items():
            if name not in self.filters:
                raise KeyError(f"{name!r} does not vary here; filters: {sorted(self.filters)}")
            self.filters[name].value = value if value == ANY else _label(value)
        return self

    @property
    def visible(self) -> list[SweepItem]:
        return [i for i in self.items if self._shown(i)]

    def to_html(self) -> str:
        """The results shown now, as a static grid."""
        return SweepResult(tuple(self.visible), 0).to_html()
