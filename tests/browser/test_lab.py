"""End to end in a real JupyterLab (and Notebook 7), driven by Playwright in Debian's
headless Chromium.

One Jupyter server on 127.0.0.1 with a token serves both front ends; the browser is
/usr/bin/chromium (never a downloaded one); the fake Dream Machine serves a real 720p
phone clip. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell

from chromium import CHROME_ARGS, CHROMIUM
from conftest import CLIPS, TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PHONE_720P = CLIPS / "dog_phone_720p.mp4"  # 1280x720, 1.5 s: what the fake "generates"
CLIP_720P = CLIPS / "bigbuckbunny_720p.mp4"  # 1280x720: converted in the Studio
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(root: Path, name: str, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = KERNEL
    nbformat.write(nb, root / name)


@pytest.fixture(scope="module")
def fake_state(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fake") / "fake.json"


@pytest.fixture(scope="module")
def fake_server(fake_state):
    from pixelnb.testing import FakeLuma

    fake = FakeLuma(PHONE_720P, api_key=TEST_KEY, queue_seconds=0.3, dream_seconds=1.0, state=fake_state)
    with fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, fake_server) -> Iterator:
    from pixelnb.testing.jupyter import JupyterServer

    root = tmp_path_factory.mktemp("lab")
    quick = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    quick.cells = [*quick.cells[:4], new_code_cell('print("PLAYING", player.playing, "FRAME", player.frame)')]
    nbformat.write(quick, root / "quickstart.ipynb")
    notebook(root, "studio.ipynb", "import pixelnb\nstudio = pixelnb.Studio()\nstudio")
    notebook(root, "studio7.ipynb", "import pixelnb\nstudio = pixelnb.Studio()\nstudio")
    notebook(
        root,
        "reopen.ipynb",
        "import pixelnb\nfrom pixelnb.data import sample_clip\n"
        "s = pixelnb.pixelate(sample_clip(), size=48, colors=8, fps=6, end=2)\npixelnb.Player(s)",
        "pixelnb.FrameGrid(s, title='frames')",
    )
    notebook(
        root,
        "gallery.ipynb",
        "import pixelnb\nfrom pixelnb.data import sample_clip\n"
        "from pixelnb.jobs import SweepItem, SweepResult\n"
        "items = [SweepItem({'colors': c, 'palette': p}, pixelnb.pixelate(sample_clip(), size=32, colors=c,\n"
        "         palette=p, fps=6, end=1.5)) for c in (4, 8) for p in ('auto', 'pico-8')]\n"
        "gallery = pixelnb.Gallery(SweepResult(tuple(items), 1))\ngallery",
    )
    notebook(root, "character.ipynb", "import pixelnb\nstudio = pixelnb.Studio()\nstudio")
    notebook(root, "character7.ipynb", "import pixelnb\nstudio = pixelnb.Studio()\nstudio")
    notebook(
        root,
        "clear.ipynb",
        "import numpy as np, pixelnb\n"
        "idx = np.zeros((3, 8, 8), np.uint8); idx[:, 2:6, 2:6] = 1\n"
        "s = pixelnb.Sprite(idx, pixelnb.Palette.from_hex(['#00ff00', '#ff0000']), fps=4, transparent=0)\n"
        "pixelnb.Player(s, zoom=4)",
        "pixelnb.FrameGrid(s, zoom=4)",
    )
    env = {"LUMAAI_BASE_URL": fake_server.base_url, "PIXELNB_CACHE": str(root / "cache")}
    with JupyterServer(root, env) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        yield b
        b.close()


def open_lab(browser, server, name: str, workspace: str | None = None):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    # A workspace of its own, reset, so that no tab of an earlier test is restored.
    page.goto(server.lab(name, workspace))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # The status bar says when the kernel is connected and idle.
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)
    return page


def run_all(page) -> None:
    page.click(".jp-Notebook")  # make sure the notebook has the focus
    page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=10_000)
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def save(page, path: Path, must_contain: str) -> str:
    """Ctrl+S, then read the file once the server has written it."""
    before = path.stat().st_mtime_ns
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            text = path.read_text()
            if must_contain in text:
                return text
        page.wait_for_timeout(200)
    raise AssertionError(f"{path.name} was not saved with {must_contain!r}")


def test_quickstart_player_animates_and_python_sees_the_pause(browser, server):
    import pixelnb
    from pixelnb.data import sample_clip

    page = open_lab(browser, server, "quickstart.ipynb")
    run_all(page)
    canvas = page.wait_for_selector(".pixelnb-player canvas.pixelnb-canvas", timeout=120_000)
    first = int(canvas.get_attribute("data-frame"))
    page.wait_for_function(
        "f => document.querySelector('.pixelnb-player canvas.pixelnb-canvas').dataset.frame != f",
        arg=str(first),
        timeout=10_000,
    )
    shot(page, "quickstart-playing.png")

    page.click(".pixelnb-player .pixelnb-play")
    page.wait_for_selector(".pixelnb-player .pixelnb-play:has-text('▶')")
    frame = int(canvas.get_attribute("data-frame"))
    zoom = int(page.eval_on_selector(".pixelnb-player .pixelnb-zoom", "e => e.value"))
    pixels = page.eval_on_selector(
        ".pixelnb-player canvas.pixelnb-canvas",
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
    )
    sprite = pixelnb.pixelate(sample_clip(), size=64, colors=16, fps=12)
    drawn = np.array(pixels, np.uint8).reshape(sprite.height * zoom, sprite.width * zoom, 4)[
        ::zoom, ::zoom, :3
    ]
    assert np.abs(drawn.astype(int) - sprite.to_rgb()[frame].astype(int)).max() <= 2
    # While the widget lives, its fallback output is hidden.
    assert page.locator(".pixelnb-fallback").first.is_hidden()

    # Python sees the pause: run the last cell again and read what it prints.
    cells = page.locator(".jp-Notebook .jp-Cell")
    last = cells.nth(cells.count() - 1)
    last.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(f"text=PLAYING False FRAME {frame}", timeout=30_000)
    shot(page, "quickstart-paused.png")
    page.close()


def studio_row_state(page, nth: int = 0) -> str:
    return (
        page.locator(".pixelnb-studio table.pixelnb-jobs tr[data-id]")
        .nth(nth)
        .locator(".pixelnb-col-state")
        .inner_text()
    )


def test_studio_key_flows_generation_restart_conversion_and_saved_size(
    browser, server, fake_server, fake_state
):
    """The Studio as a first-time user meets it: no key, a wrong key, the right one, a
    double click, the fake server stopped and restarted mid-dream, a 720p conversion,
    a download, and the notebook saved with widget state."""
    from pixelnb.store import JobStore
    from pixelnb.testing import FakeLuma

    server.save_widget_state(True)
    page = open_lab(browser, server, "studio.ipynb")
    run_all(page)
    try:
        page.wait_for_selector(".pixelnb-studio .pixelnb-key-input", timeout=120_000)
    except Exception:
        shot(page, "studio-failure.png")
        raise
    studio = ".pixelnb-studio"
    assert page.locator(f"{studio} .pixelnb-key-label").inner_text() == "Luma API key"
    page.fill(f"{studio} .pixelnb-prompt textarea", "a cute pixel art dog running on grass")
    generate = f"{studio} button.pixelnb-action:text-is('Generate')"

    # 1. No key yet: the Studio says where to put it.
    page.click(generate)
    page.wait_for_selector(f"{studio} .pixelnb-error:has-text('enter your Luma API key in the box above')")
    assert "LUMAAI_API_KEY" not in page.locator(f"{studio} .pixelnb-error").inner_text()

    # 2. A wrong key: Luma refuses it, nothing is paid, and the box comes back.
    page.fill(f"{studio} .pixelnb-key-input", "luma-wrong-key-000")
    page.click(f"{studio} .pixelnb-key-button")
    page.wait_for_selector(f"{studio} .pixelnb-key-status:has-text('key set (kept in this kernel only)')")
    page.click(generate)
    page.wait_for_selector(f"{studio} .pixelnb-error:has-text('AuthError')", timeout=60_000)
    page.wait_for_selector(f"{studio} .pixelnb-key-input", state="visible", timeout=30_000)
    assert fake_server.creates == 0

    # 3. The right key, and a double click: one job, one generation, selected at once.
    page.fill(f"{studio} .pixelnb-key-input", TEST_KEY)
    page.click(f"{studio} .pixelnb-key-button")
    page.wait_for_selector(f"{studio} .pixelnb-key-input", state="hidden", timeout=30_000)
    page.fill(f"{studio} .pixelnb-prompt textarea", "a cute pixel art cat walking in a garden")
    page.dblclick(generate)
    page.wait_for_selector(f"{studio} .pixelnb-complete:has-text('pixel-art frames')", timeout=120_000)
    assert studio_row_state(page) == "completed"
    assert page.locator(f"{studio} tr.pixelnb-selected").count() == 1
    assert fake_server.creates == 1
    canvas = page.wait_for_selector(f"{studio} .pixelnb-player canvas.pixelnb-canvas")
    assert int(canvas.get_attribute("width")) >= 64
    page.wait_for_function(
        f"() => document.querySelector('{studio} .pixelnb-side .pixelnb-framegrid').dataset.frames > 10"
    )
    shot(page, "studio-completed.png")
    page.set_viewport_size({"width": 1100, "height": 2600})  # the whole Studio, for the README
    page.locator(studio).screenshot(path=str(ARTIFACTS / "studio-gallery.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    # 4. The export downloads from a link that fetches the file on click.
    page.click(f"{studio} button[title='GIF']")
    link = page.wait_for_selector(f"{studio} .pixelnb-downloads a.pixelnb-link", timeout=30_000)
    with page.expect_download() as got:
        link.click()
    assert Path(got.value.path()).read_bytes()[:6] == b"GIF89a"

    # 5. The server stops mid-dream: the job says "reconnecting" and, once the server is
    # back, finishes with no new create.
    fake_server.dream_seconds = 6.0
    page.fill(f"{studio} .pixelnb-prompt textarea", "a lighthouse at dusk, pixel art")
    page.click(generate)
    page.wait_for_selector(f"{studio} .pixelnb-step.current[data-step='dreaming']", timeout=60_000)
    fake_server.stop()
    page.wait_for_selector(f"{studio} .pixelnb-jobs td:has-text('reconnecting')", timeout=60_000)
    shot(page, "studio-reconnecting.png")
    back = FakeLuma(
        PHONE_720P,
        api_key=TEST_KEY,
        queue_seconds=0.3,
        dream_seconds=6.0,
        state=fake_state,
        port=fake_server.port,
    ).start()
    try:
        page.wait_for_function(
            "() => document.querySelector('.pixelnb-studio .pixelnb-jobs tr[data-id] .pixelnb-col-state')"
            ".textContent === 'completed'",
            timeout=120_000,
        )
        assert back.creates == 0
    finally:
        back.stop()

    # 6. Convert a 720p clip in the other tab; the earlier result clears.
    page.click(".lm-TabBar-tabLabel:text-is('Convert a video')")
    page.fill(f"{studio} input[placeholder='path/to/video.mp4']", str(CLIP_720P))
    page.click(f"{studio} button.pixelnb-action:text-is('Convert')")
    page.wait_for_selector(
        f"{studio} .widget-html:has-text('converted bigbuckbunny_720p.mp4')", timeout=120_000
    )
    page.wait_for_selector(f"{studio} .pixelnb-complete")
    assert page.locator(f"{studio} .pixelnb-downloads a").count() == 0  # the old links went
    screen = page.locator(f"{studio} .pixelnb-side .pixelnb-screen")
    width = screen.evaluate("c => c.getBoundingClientRect().width")
    player_width = page.locator(f"{studio} .pixelnb-player canvas.pixelnb-canvas").evaluate(
        "c => c.getBoundingClientRect().width"
    )
    assert abs(width - player_width) <= 4, "the source and the pixel art show at one size"
    shot(page, "studio-converted.png")

    # 7. Saved with widget state, the notebook stays small and holds no key.
    saved = save(page, server.root / "studio.ipynb", "application/vnd.jupyter.widget-state+json")
    assert TEST_KEY not in saved, "the key reached the saved notebook"
    assert len(saved.encode()) < 1_000_000, f"the saved notebook is {len(saved.encode())} bytes"
    recs = JobStore(server.root / "cache" / "jobs.sqlite3").all()
    assert len({r.luma_id for r in recs if r.luma_id}) == 2  # two prompts, two generations
    page.close()
    server.save_widget_state(False)


def test_a_reopened_notebook_shows_the_animation_with_the_kernel_gone(browser, server):
    from PIL import Image

    page = open_lab(browser, server, "reopen.ipynb")
    run_all(page)
    page.wait_for_selector(".pixelnb-player canvas.pixelnb-canvas", timeout=120_000)
    page.wait_for_selector(".pixelnb-framegrid canvas")
    save(page, server.root / "reopen.ipynb", "pixelnb-fallback")
    page.close()
    server.shutdown_kernels()

    page = open_lab(browser, server, "reopen.ipynb", workspace="reopened")
    gif, sheet = page.locator(".pixelnb-fallback img").all()
    gif.wait_for(state="visible", timeout=30_000)
    sheet.wait_for(state="visible")
    shot(page, "reopened.png")
    # No "model not found" in sight: the dead widget views are hidden.
    for err in page.locator("text=Error displaying widget").all():
        assert err.is_hidden()
    animation = Image.open(io.BytesIO(base64.b64decode(gif.get_attribute("src").split(",", 1)[1])))
    assert animation.format == "GIF" and animation.n_frames == 12  # 2 s at 6 fps: the animation
    contact = Image.open(io.BytesIO(base64.b64decode(sheet.get_attribute("src").split(",", 1)[1])))
    assert contact.format == "PNG"  # the grid's fallback is a contact sheet
    assert page.locator(".pixelnb-live").count() == 0
    page.close()


def open_notebook7(browser, server, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.notebook7(name))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    try:
        page.wait_for_selector(".jp-KernelName:has-text('Python 3')", timeout=60_000)
    except Exception:
        shot(page, "notebook7-failure.png")
        raise
    return page


def test_player_and_studio_in_notebook_7(browser, server):
    page = open_notebook7(browser, server, "quickstart.ipynb")
    run_all(page)
    canvas = page.wait_for_selector(".pixelnb-player canvas.pixelnb-canvas", timeout=120_000)
    first = canvas.get_attribute("data-frame")
    page.wait_for_function(
        "f => document.querySelector('.pixelnb-player canvas.pixelnb-canvas').dataset.frame != f",
        arg=first,
        timeout=10_000,
    )
    shot(page, "notebook7-player.png")
    page.close()

    page = open_notebook7(browser, server, "studio7.ipynb")
    run_all(page)
    studio = ".pixelnb-studio"
    page.wait_for_selector(f"{studio} .pixelnb-keyfield", timeout=120_000)
    page.click(".lm-TabBar-tabLabel:text-is('Convert a video')")
    page.fill(f"{studio} input[placeholder='path/to/video.mp4']", str(CLIPS / "dog_phone_720p.mp4"))
    page.click(f"{studio} button.pixelnb-action:text-is('Convert')")
    page.wait_for_selector(f"{studio} .pixelnb-complete", timeout=120_000)
    page.wait_for_selector(f"{studio} .pixelnb-player canvas.pixelnb-canvas")
    shot(page, "notebook7-studio.png")
    page.close()


def test_the_gallery_shows_players_and_filters_them_in_the_browser(browser, server):
    page = open_lab(browser, server, "gallery.ipynb")
    run_all(page)
    players = ".jp-OutputArea .pixelnb-player canvas.pixelnb-canvas"
    page.wait_for_function(f"document.querySelectorAll({players!r}).length == 4", timeout=120_000)
    labels = page.locator(".jp-OutputArea .widget-html-content").all_inner_texts()
    assert any("colors=8 · palette=pico-8" in t for t in labels)
    page.locator(".widget-dropdown:has-text('colors') select").select_option("8")
    page.wait_for_function(f"document.querySelectorAll({players!r}).length == 2", timeout=30_000)
    page.locator(".widget-dropdown:has-text('palette') select").select_option("pico-8")
    page.wait_for_function(f"document.querySelectorAll({players!r}).length == 1", timeout=30_000)
    shot(page, "gallery-filtered.png")
    page.close()


def test_clear_pixels_show_the_checkerboard_in_the_player_and_the_frame_grid(browser, server):
    page = open_lab(browser, server, "clear.ipynb")
    run_all(page)
    player = ".pixelnb-player canvas.pixelnb-canvas"
    page.wait_for_selector(player, timeout=120_000)
    page.wait_for_function(
        "document.querySelectorAll('.jp-OutputArea canvas.pixelnb-checker').length >= 4", timeout=60_000
    )
    read = """([sel, x, y]) => { const c = document.querySelector(sel);
        return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data); }"""
    scale = int(page.eval_on_selector(player, "c => c.width")) // 8
    assert page.evaluate(read, [player, 0, 0])[3] == 0  # the backdrop colour (green) is not drawn
    assert page.evaluate(read, [player, 3 * scale, 3 * scale]) == [255, 0, 0, 255]
    assert "gradient" in page.eval_on_selector(player, "c => getComputedStyle(c).backgroundImage")
    cell = ".jp-OutputArea canvas.pixelnb-checker:not(.pixelnb-canvas):not(.pixelnb-screen)"
    assert page.evaluate(read, [cell, 0, 0])[3] == 0 and page.evaluate(read, [cell, 3, 3])[3] == 255
    assert "gradient" in page.eval_on_selector(cell, "c => getComputedStyle(c).backgroundImage")
    shot(page, "clear-pixels.png")
    page.close()


@pytest.mark.parametrize("front", ["lab", "notebook7"])
def test_the_character_tab_designs_picks_animates_and_exports(browser, server, fake_server, front):
    from pixelnb.testing import FakeLuma

    # A fake of its own on the kernel's port (the Studio test stops the module's one).
    if not fake_server._stopped.is_set():
        fake_server.stop()
    with FakeLuma(
        PHONE_720P, api_key=TEST_KEY, queue_seconds=0.3, dream_seconds=1.0, port=fake_server.port
    ) as fake:
        if front == "lab":
            page = open_lab(browser, server, "character.ipynb")
        else:
            page = open_notebook7(browser, server, "character7.ipynb")
        character_flow(page, fake, f"a knight in silver armour ({front})", front)


def character_flow(page, fake_server, prompt: str, front: str) -> None:
    run_all(page)
    studio = ".pixelnb-studio"
    page.wait_for_selector(f"{studio} .pixelnb-key-input", timeout=120_000)
    page.fill(f"{studio} .pixelnb-key-input", TEST_KEY)
    page.click(f"{studio} .pixelnb-key-button")
    page.wait_for_selector(f"{studio} .pixelnb-key-input", state="hidden", timeout=30_000)
    before = fake_server.creates
    page.click(f"{studio} .lm-TabBar-tab:has-text('Character')")
    tab = f"{studio} .pixelnb-character"
    page.wait_for_selector(
        f"{tab} .pixelnb-cost:has-text('Generate set for 2 Ray generations')"
    )  # before any click
    page.fill(f"{tab} textarea", prompt)
    page.fill(f"{tab} .widget-inline-hbox:has-text('candidates') input", "2")
    page.keyboard.press("Tab")
    page.click(f"{tab} button.pixelnb-action:text-is('Design')")
    page.wait_for_selector(f"{tab} .pixelnb-cost:has-text('Design asks Luma for 2 Photon generations')")
    page.wait_for_function(
        f"document.querySelectorAll({tab + ' .pixelnb-candidate img'!r}).length == 2", timeout=120_000
    )
    page.click(f"{tab} button.pixelnb-pick:has-text('pick 1')")
    page.click(f"{tab} button.pixelnb-action:text-is('Generate set')")
    page.wait_for_selector(f"{tab} table.pixelnb-actions tr[data-action='walk']", timeout=30_000)
    page.wait_for_function(
        f"document.querySelectorAll({tab + ' .pixelnb-player canvas.pixelnb-canvas'!r}).length == 2",
        timeout=180_000,
    )
    page.wait_for_selector(f"{tab} .pixelnb-cost:has-text('The set is made')", timeout=30_000)
    assert fake_server.creates - before == 4  # two candidates, two actions
    page.click(f"{tab} button:has-text('Godot .tres')")
    page.wait_for_selector(f"{tab} .pixelnb-downloads a:has-text('.tres')", timeout=30_000)
    shot(page, f"studio-character-{front}.png")
    page.close()
