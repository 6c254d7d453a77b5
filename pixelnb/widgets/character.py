"""The Studio's Character tab: design a character with Photon, pick a candidate, animate it
in several actions with Ray, watch each action, play the set, export it.

Every step says what it will ask Luma for before anything is sent, and the balance after.
Everything runs on the kernel's event loop; the set is built in a worker thread.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

from pixelnb.errors import PixelnbError
from pixelnb.jobs.character import ACTIONS, Design, SetJob, animate, design
from pixelnb.spriteset import SpriteSet
from pixelnb.widgets.controls import ActionButton, Downloads

if TYPE_CHECKING:
    from pixelnb.jobs import JobManager
    from pixelnb.options import PixelOptions

__all__ = ["CharacterTab"]


def _error(err: BaseException) -> str:
    return f"<div class='pixelnb-error'><b>{type(err).__name__}</b>: {html.escape(str(err))}</div>"


class CharacterTab(w.VBox):  # type: ignore[misc]
    """Prompt → candidates → pick → actions → sprite set, in one tab.

    ``pixel`` gives the Studio's pixel options when asked; ``ready`` checks (and asks for)
    the key before anything is sent.
    """

    def __init__(
        self,
        manager: JobManager,
        out_dir: Path,
        pixel: Callable[[], PixelOptions],
        ready: Callable[[], None],
    ) -> None:
        self.manager = manager
        self.out_dir = out_dir
        self._pixel = pixel
        self._ready = ready
        self.design: Design | None = None
        self.set_job: SetJob | None = None
        self.sprites: SpriteSet | None = None
        self._task: asyncio.Task[None] | None = None
        self.prompt = w.Textarea(placeholder="a knight in silver armour", description="character")
        self.prompt.layout.width = "100%"
        self.n = w.BoundedIntText(value=4, min=1, max=8, description="candidates")
        self.image_model = w.Dropdown(
            options=["photon-1", "photon-flash-1"], value="photon-1", description="model"
        )
        self.design_button = ActionButton("Design", primary=True)
        self.cost = w.HTML()
        self.error = w.HTML()
        self.candidates = w.HBox(layout={"flex_flow": "row wrap"})
        self.candidates.add_class("pixelnb-candidates")
        self.actions = {
            a: w.Checkbox(value=a in ("idle", "walk"), description=a, indent=False) for a in ACTIONS
        }
        self.set_button = ActionButton("Generate set", primary=True)
        self.set_button.disabled = True
        self.action_lines = w.HTML()
        self.players = w.Box(layout={"flex_flow": "row wrap"})
        self.export_sheet = w.Button(description="Set sheet + JSON", icon="download")
        self.export_tres = w.Button(description="Godot .tres", icon="download")
        self.export_gifs = w.Button(description="Set as GIFs", icon="download")
        self.downloads = Downloads()
        super().__init__(
            [
                self.prompt,
                w.HBox([self.n, self.image_model, self.design_button]),
                self.cost,
                self.error,
                self.candidates,
                w.HTML("<div class='pixelnb-title'>actions</div>"),
                w.HBox(list(self.actions.values())),
                self.set_button,
                self.action_lines,
                self.players,
                w.HBox([self.export_sheet, self.export_tres, self.export_gifs]),
                self.downloads,
            ]
        )
        self.add_class("pixelnb-character")
        self.design_button.on_click(self.start_design)
        self.set_button.on_click(self.start_set)
        self.export_sheet.on_click(lambda _: self.export("png"))
        self.export_tres.on_click(lambda _: self.export("tres"))
        self.export_gifs.on_click(lambda _: self.export("gifs"))
        for box in self.actions.values():
            box.observe(lambda _: self._say_cost(), "value")
        self.n.observe(lambda _: self._say_cost(), "value")
        self._say_cost()  # what each button will ask for, before anything is clicked

    # -- what it costs ---------------------------------------------------------------------
    def _balance(self) -> str:
        try:
            return f"{self.manager.run(self.manager.credits(), timeout=15):.0f} credits"
        except (PixelnbError, TimeoutError):
            return "unknown"

    def _chosen_actions(self) -> list[str]:
        return [a for a, box in self.actions.items() if box.value]

    def _say_cost(self, done: str = "") -> None:
        k = len(self._chosen_actions())
        parts = [done] if done else []
        parts.append(
            f"Design asks Luma for {int(self.n.value)} Photon generations; "
            f"Generate set for {k} Ray generation{'s' if k != 1 else ''} (one per action). "
            "Requests already in the job store are reused, not paid again."
        )
        self.cost.value = "<div class='pixelnb-cost'>" + " ".join(html.escape(p) for p in parts) + "</div>"

    # -- design and pick -------------------------------------------------------------------
    def start_design(self) -> Design | None:
        """The Design button: n candidates of the prompt."""
        self.error.value = ""
        try:
            self._ready()
            self.design = design(
                self.prompt.value,
                n=int(self.n.value),
                model=self.image_model.value,
                pixel=self._pixel().replace(background="auto"),
                manager=self.manager,
            )
        except (PixelnbError, ValueError) as err:
            self.error.value = _error(err)
            return None
        for job in self.design.jobs:
            job.on_change(lambda _job: self._show_candidates())
        self._show_candidates()
        self._say_cost(f"Balance: {self._balance()}.")
        return self.design

    def _show_candidates(self) -> None:
        d = self.design
        if d is None:
            return
        cards = []
        for i, job in enumerate(d.jobs):
            picture = job.sprite.to_html(width=128) if job.sprite is not None else html.escape(job.state)
            button = w.Button(description=f"pick {i}", button_style="success" if d.picked == i else "")
            button.add_class("pixelnb-pick")
            button.on_click(lambda _b, i=i: self.pick(i))
            card = w.VBox([w.HTML(picture), button])
            card.add_class("pixelnb-candidate")
            cards.append(card)
        self.candidates.children = cards

    def pick(self, i: int) -> None:
        """Choose candidate ``i`` for the set."""
        if self.design is None:
            return
        self.design.pick(i)
        self.set_button.disabled = False
        self._show_candidates()

    # -- the set -----------------------------------------------------------------------------
    def start_set(self) -> SetJob | None:
        """The Generate set button: one generation per checked action."""
        self.error.value = ""
        try:
            self._ready()
            if self.design is None or self.design.picked is None:
                raise PixelnbError("design a character and pick a candidate first")
            actions = self._chosen_actions()
            if not actions:
                raise PixelnbError("check at least one action")
            self.set_job = animate(self.design, actions=actions, pixel=self._pixel(), manager=self.manager)
        except (PixelnbError, ValueError) as err:
            self.error.value = _error(err)
            return None
        for job in self.set_job.jobs.values():
            job.on_change(lambda _job: self._show_actions())
        self._show_actions()
        return self.set_job

    def _show_actions(self) -> None:
        sj = self.set_job
        if sj is None:
            return
        rows = "".join(
            f"<tr data-action='{html.escape(a)}'><td>{html.escape(a)}</td><td class='pixelnb-col-state'>"
            f"{html.escape(j.state)}</td><td>{j.progress.fraction:.0%}</td></tr>"
            for a, j in sj.jobs.items()
        )
        self.action_lines.value = f"<table class='pixelnb-actions'>{rows}</table>"
        # A job says "completed" just before its result is set: the state is what counts here.
        ended = all(j.state in ("completed", "failed", "cancelled") for j in sj.jobs.values())
        if ended and self.sprites is None and self._task is None:
            self._build()

    def _build(self) -> None:
        sj = self.set_job
        assert sj is not None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        async def run() -> None:
            try:
                self.sprites = await asyncio.to_thread(sj.result)
            except PixelnbError as err:
                self.error.value = _error(err)
                return
            finally:
                self._task = None
            self.players.children = [self.sprites.players()]
            note = f" ({sj.report()})" if sj.failed else ""
            self._say_cost(f"The set is made{note}. Balance: {self._balance()}.")

        self._task = loop.create_task(run())

    def export(self, kind: str) -> list[Path]:
        """Save the set (``png`` sheet + JSON, ``tres`` + sheet, ``gifs``) and offer it."""
        if self.sprites is None:
            self.error.value = _error(PixelnbError("nothing to export yet: generate a set first"))
            return []
        stem = self.out_dir / f"character-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if kind == "png":
                files = [self.sprites.save(stem.with_suffix(".png")), stem.with_suffix(".json")]
            elif kind == "tres":
                files = [self.sprites.save(stem.with_suffix(".tres")), stem.with_suffix(".png")]
            else:
                folder = self.sprites.save(stem)
                files = sorted(folder.glob("*.gif"))
        except (PixelnbError, OSError) as err:
            self.error.value = _error(err)
            return []
        self.downloads.offer(files)
        return files
