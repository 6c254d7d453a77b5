"""Characters from Luma: design one with Photon, animate it with Ray, get one sprite set.

:func:`design` asks Photon for ``n`` candidates of a prompt (each its own generation, paid
for once, followed, stored and resumable like any job) and pixelates each with the same
options; ``design.pick(i)`` chooses one. :func:`animate` starts one image-to-video
generation per action with the picked image as ``frame0``, follows them together, and
builds the :class:`~pixelnb.SpriteSet` (one palette, one grid scale, transparent
background, common anchor, loops trimmed) from the ones that finish.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping, Sequence
from typing import Any

from pixelnb.errors import OptionError, PixelnbError
from pixelnb.jobs.api import default_manager
from pixelnb.jobs.job import Job
from pixelnb.jobs.manager import JOB_DEFAULTS, JobManager, _check_fits, generation_record
from pixelnb.luma import GenerationRequest, ImageRequest, ModifyRequest
from pixelnb.luma.request import public_url
from pixelnb.matte import parse_background
from pixelnb.options import PixelOptions
from pixelnb.sprite import Sprite
from pixelnb.spriteset import SpriteSet

__all__ = [
    "ACTIONS",
    "DESIGN_DEFAULTS",
    "Design",
    "SetJob",
    "action_prompts",
    "animate",
    "design",
    "restyle",
]

# A prompt template per action: side view, the whole body, a plain backdrop, a cycle.
ACTIONS: dict[str, str] = {
    "idle": "{character}, standing idle and breathing gently, side view, full body, {backdrop}, "
    "seamless looping animation",
    "walk": "{character}, walking in place, side view, full body, {backdrop}, seamless looping walk cycle",
    "run": "{character}, running in place, side view, full body, {backdrop}, seamless looping run cycle",
    "jump": "{character}, jumping straight up and landing, side view, full body, {backdrop}",
    "attack": "{character}, attacking with a quick swing, side view, full body, {backdrop}",
}
# Candidates are pixelated as the sprite will be: grid found, background keyed out.
DESIGN_DEFAULTS: dict[str, Any] = {**JOB_DEFAULTS, "background": "auto"}
_COLOUR_NAMES = {
    (0, 255, 0): "green",
    (0, 0, 255): "blue",
    (255, 0, 255): "magenta",
    (255, 255, 255): "white",
}


def _backdrop(background: Any) -> str:
    """The words a prompt uses for the backdrop the pixel stage will key out."""
    parsed = parse_background(background)
    if isinstance(parsed, str):
        return "simple background" if parsed == "keep" else "plain solid-colour background"
    r, g, b = parsed
    name = _COLOUR_NAMES.get((r, g, b), "")
    return f"plain solid {name} (#{r:02x}{g:02x}{b:02x}) background".replace("  ", " ")


def action_prompts(
    actions: Sequence[str] | Mapping[str, str], character: str, background: Any = "auto"
) -> dict[str, str]:
    """Each action's prompt: a preset of :data:`ACTIONS` by name, or your own template
    (``{"wave": "{character} waves one hand, {backdrop}"}``; plain text is used as given)."""
    if isinstance(actions, str):
        actions = [actions]
    items = actions.items() if isinstance(actions, Mapping) else [(a, None) for a in actions]
    out: dict[str, str] = {}
    backdrop = _backdrop(background)
    for name, template in items:
        if not isinstance(name, str) or not name.strip():
            raise OptionError(f"an action is a name such as 'walk', not {name!r}")
        if template is None:
            if name not in ACTIONS:
                raise OptionError(
                    f"unknown action {name!r}; choose from {', '.join(ACTIONS)} or give its prompt: "
                    f"actions={{{name!r}: '{{character}} ..., {{backdrop}}'}}"
                )
            template = ACTIONS[name]
        if not isinstance(template, str):
            raise OptionError(f"the prompt of {name!r} must be text, not {template!r}")
        # Your own words get the character in front and the backdrop behind when they do
        # not place them: "waves one hand" is about this character, on the keyed backdrop.
        if "{character}" not in template:
            template = "{character}, " + template
        if "{backdrop}" not in template:
            template = template + ", {backdrop}"
        try:
            out[name] = template.format(character=character, backdrop=backdrop)
        except (KeyError, IndexError, ValueError) as exc:
            raise OptionError(
                f"the prompt of {name!r} can use {{character}} and {{backdrop}} only ({exc})"
            ) from None
    if not out:
        raise OptionError("give at least one action, such as actions=('idle', 'walk')")
    return out


class Design:
    """``n`` Photon candidates of one prompt, each a :class:`Job` that ends in its
    pixelated Sprite. ``pick(i)`` chooses one for :func:`animate`."""

    def __init__(self, prompt: str, jobs: list[Job], manager: JobManager) -> None:
        self.prompt = prompt
        self.jobs = jobs
        self.manager = manager
        self.picked: int | None = None

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        states = " ".join(j.state for j in self.jobs)
        pick = f", picked {self.picked}" if self.picked is not None else ""
        return f"<Design {self.prompt!r}: {len(self.jobs)} candidates ({states}){pick}>"

    def pick(self, i: int) -> Design:
        """Choose candidate ``i`` (from 0)."""
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.jobs):
            raise OptionError(f"pick a candidate from 0 to {len(self.jobs) - 1}, not {i!r}")
        self.picked = i
        return self

    @property
    def job(self) -> Job:
        """The picked candidate's job."""
        if self.picked is None:
            raise OptionError("pick a candidate first: design.pick(0)")
        return self.jobs[self.picked]

    def result(self, timeout: float | None = None) -> list[Sprite | PixelnbError]:
        """Every candidate's Sprite (or why it failed), waiting for them."""
        out: list[Sprite | PixelnbError] = []
        for job in self.jobs:
            try:
                out.append(job.result(timeout))
            except PixelnbError as err:
                out.append(err)
        return out

    def __await__(self) -> Any:
        async def wait() -> list[Sprite | PixelnbError]:
            return await asyncio.to_thread(self.result)

        return wait().__await__()

    def to_html(self) -> str:
        """The candidates side by side, numbered (done ones pixelated, others their state)."""
        cards = []
        for i, job in enumerate(self.jobs):
            body = job.sprite.to_html(width=160) if job.sprite is not None else html.escape(job.state)
            mark = " (picked)" if i == self.picked else ""
            cards.append(f'<figure style="margin:4px">{body}<figcaption>{i}{mark}</figcaption></figure>')
        return f'<div style="display:flex;flex-wrap:wrap">{"".join(cards)}</div>'

    def _repr_html_(self) -> str:
        return self.to_html()


def design(
    prompt: str,
    *,
    n: int = 4,
    model: str = "photon-1",
    aspect_ratio: str = "1:1",
    style_ref: Any = None,
    character_ref: Any = None,
    image_ref: Any = None,
    pixel: PixelOptions | dict[str, Any] | None = None,
    manager: JobManager | None = None,
) -> Design:
    """Ask Photon for ``n`` candidates of a character; returns a :class:`Design` at once.

    Each candidate is one generation: paid for once, stored, resumed after a restart, and
    found again (not paid again) when the same design is asked for later. Every request
    and option is checked before the first is sent.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
        raise OptionError(f"n is how many candidates, from 1 to 8, not {n!r}")
    requests = [
        ImageRequest.build_image(
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            style_ref=style_ref,
            character_ref=character_ref,
            image_ref=image_ref,
            take=i,
        )
        for i in range(n)
    ]
    opts = PixelOptions.coerce(pixel, **DESIGN_DEFAULTS)
    for r in requests:
        _check_fits(opts, r)
    m = manager or default_manager()
    return Design(requests[0].prompt or "", [m.submit(r, opts) for r in requests], m)


def _image_url(character: Any) -> tuple[str, str]:
    """(public image URL, words for the prompts) of a picked Design, a finished image Job,
    or an http(s) image URL."""
    if isinstance(character, Design):
        job = character.job
        return _image_url(job)[0], character.prompt
    if isinstance(character, Job):
        if character.request.kind != "image":
            raise OptionError("animate takes an image generation (a Photon job), not a video job")
        if character.luma_id is None or not character.video_url:
            character.result()  # wait for it (raises its error if it failed)
        if not character.video_url:
            raise OptionError(f"the image job {character.id[:8]} has no image URL yet")
        return character.video_url, character.request.prompt or "the character"
    if isinstance(character, str):
        return public_url("the character image", character), "the character"
    raise OptionError(f"character must be a picked Design, an image Job or an image URL, not {character!r}")


class SetJob:
    """One generation per action, followed together; awaiting it gives the SpriteSet of the
    actions that finished (``failed`` says what did not; :meth:`retry` runs one again)."""

    def __init__(
        self,
        jobs: dict[str, Job],
        requests: dict[str, GenerationRequest],
        opts: PixelOptions,
        manager: JobManager,
        anchor: str,
    ) -> None:
        self.jobs = jobs
        self.requests = requests
        self.opts = opts
        self.manager = manager
        self.anchor = anchor
        self.failed: dict[str, PixelnbError] = {}
        self.sprites: SpriteSet | None = None

    def __repr__(self) -> str:
        states = ", ".join(f"{a}: {j.state}" for a, j in self.jobs.items())
        return f"<SetJob {states}>"

    @property
    def generations(self) -> int:
        """How many generations the set asks for (one per action)."""
        return len(self.jobs)

    def retry(self, action: str) -> Job:
        """Run one action again: a failed one is created anew; one that was stopped carries on
        with its generation. Finished actions are not touched (nor paid for again)."""
        if action not in self.jobs:
            raise OptionError(f"no action {action!r} here; the actions are {', '.join(self.jobs)}")
        job = self.manager.submit(self.requests[action], self.jobs[action].pixel)
        self.jobs[action] = job
        self.failed.pop(action, None)
        return job

    def result(self, timeout: float | None = None) -> SpriteSet:
        """Wait for every action, then build the set from those that finished."""
        from pixelnb.sets import pixelate_set

        done: dict[str, Job] = {}
        self.failed = {}
        for action, job in self.jobs.items():
            try:
                job.result(timeout)
                done[action] = job
            except PixelnbError as err:
                self.failed[action] = err
        if not done:  # nothing to build a set from: the first failure says why
            raise next(iter(self.failed.values()))
        records = {a: self.manager.store.get(j.id) for a, j in done.items()}
        videos = {a: str(r.video_path) for a, r in records.items() if r is not None and r.video_path}
        sprites = pixelate_set(videos, anchor=self.anchor, **self.opts.kwargs())
        for action, sprite in sprites.items():
            rec = records[action]
            assert rec is not None
            sprite.info["provenance"]["generation"] = generation_record(self.requests[action], rec)
        self.sprites = sprites
        return sprites

    def report(self) -> str:
        """What finished and what failed, in a line."""
        ok = [a for a in self.jobs if a not in self.failed]
        bad = [f"{a} ({e})" for a, e in self.failed.items()]
        return f"finished: {', '.join(ok) or 'none'}; failed: {', '.join(bad) or 'none'}"

    def __await__(self) -> Any:
        async def wait() -> SpriteSet:
            return await asyncio.to_thread(self.result)

        return wait().__await__()


def animate(
    character: Any,
    actions: Sequence[str] | Mapping[str, str] = ("idle", "walk"),
    *,
    model: str = "ray-2",
    loop: bool = True,
    duration: str = "5s",
    resolution: str = "540p",
    background: Any = "auto",
    anchor: str = "bottom",
    pixel: PixelOptions | dict[str, Any] | None = None,
    manager: JobManager | None = None,
) -> SetJob:
    """Animate one character in several actions; returns a :class:`SetJob` at once.

    ``character`` is a picked :class:`Design`, a finished image Job, or a public image URL;
    each action is an image-to-video generation with it as ``frame0``. ``background="auto"``
    keys out the backdrop the prompts ask for; a colour (``"#00ff00"``) asks for that
    backdrop and keys it. Everything is checked before the first generation is paid for.
    """
    from pixelnb.spriteset import ANCHORS

    if anchor not in ANCHORS:
        raise OptionError(f"unknown anchor {anchor!r}; choose one of: {', '.join(ANCHORS)}")
    url, words = _image_url(character)
    prompts = action_prompts(actions, words, background)
    # The set's own choices win over the pixel options: the backdrop the prompts ask for is
    # the one keyed out, and a looping generation is trimmed to its cycle.
    opts = PixelOptions.coerce(pixel, **JOB_DEFAULTS).replace(
        background=parse_background(background), loop="auto" if loop else "off"
    )
    requests = {
        action: GenerationRequest.build(
            text,
            model=model,
            duration=duration,
            resolution=resolution,
            loop=loop,
            keyframes={"frame0": url},
        )
        for action, text in prompts.items()
    }
    for r in requests.values():
        _check_fits(opts, r)
    m = manager or default_manager()
    jobs = {action: m.submit(r, opts) for action, r in requests.items()}
    return SetJob(jobs, requests, opts, m, anchor)


def restyle(
    source: Any,
    prompt: str,
    *,
    mode: str = "adhere_1",
    model: str = "ray-2",
    first_frame: str | None = None,
    pixel: PixelOptions | dict[str, Any] | None = None,
    fresh: bool = False,
    manager: JobManager | None = None,
) -> Job:
    """Redraw a video Luma can reach as ``prompt`` says (``POST /generations/video/modify``),
    then pixelate it; returns the :class:`Job` at once.

    ``source`` is a finished video Job (its generation's video) or a public video URL. A
    local file cannot be sent: Luma reads media only from URLs, so upload it first.
    ``mode`` is ``adhere_1..3`` (keep the original closely), ``flex_1..3`` or
    ``reimagine_1..3``.
    """
    if isinstance(source, Job):
        if source.request.asset != "video":
            raise OptionError("restyle takes a video job or a video URL, not an image job")
        if not source.video_url:
            source.result()
        url = source.video_url
    else:
        url = source
    request = ModifyRequest(prompt=prompt, model=model, media=public_url("the video to restyle", url),
                            mode=mode, first_frame=first_frame)  # fmt: skip
    request.validate()
    m = manager or default_manager()
    return m.submit(request, pixel, fresh=fresh)
