"""End to end in a real JupyterLab, driven by Playwright in Debian's headless Chromium.

The server runs on 127.0.0.1 with a token; the browser is /usr/bin/chromium (never a
downloaded one). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell

from chromium import CHROME_ARGS, CHROMIUM
from conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "pixelnb-browser-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def fake_server():
    from pixelnb.testing import FakeLuma

    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.3, dream_seconds=1.0) as fake:
        yield fake


@pytest.fixture(scope="module")
def lab(tmp_path_factory, fake_server) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("lab")
    quick = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    quick.cells = [*quick.cells[:4], new_code_cell('print("PLAYING", player.playing, "FRAME", player.frame)')]
    nbformat.write(quick, root / "quickstart.ipynb")
    studio = nbformat.v4.new_notebook(
        cells=[new_code_cell("import pixelnb\nstudio = pixelnb.Studio()\nstudio")]
    )
    studio.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(studio, root / "studio.ipynb")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LUMAAI_API_KEY"}
    env.update(
        LUMAAI_BASE_URL=fake_server.base_url,
        PIXELNB_CACHE=str(root / "cache"),
        JUPYTER_CONFIG_DIR=str(root / "cfg"),
    )
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--allow-root",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # the server says when it is up
        try:
            if httpx.get(f"{base}/api/status", params={"token": TOKEN}, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:])
        time.sleep(0.2)
    try:
        yield base, root
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        yield b
        b.close()


def open_notebook(browser, base: str, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # A workspace of its own, reset, so that no tab of an earlier test is restored.
    page.goto(f"{base}/lab/workspaces/{Path(name).stem}/tree/{name}?reset&token={TOKEN}")
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


def test_quickstart_player_animates_and_python_sees_the_pause(browser, lab):
    import pixelnb
    from pixelnb.data import sample_clip

    base, _ = lab
    page = open_notebook(browser, base, "quickstart.ipynb")
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

    # Python sees the pause: run the last cell again and read what it prints.
    cells = page.locator(".jp-Notebook .jp-Cell")
    last = cells.nth(cells.count() - 1)
    last.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(f"text=PLAYING False FRAME {frame}", timeout=30_000)
    shot(page, "quickstart-paused.png")
    page.close()


def test_studio_generates_against_the_fake_server(browser, lab, fake_server):
    base, root = lab
    page = open_notebook(browser, base, "studio.ipynb")
    run_all(page)
    try:
        page.wait_for_selector(".pixelnb-studio", timeout=120_000)
    except Exception:
        shot(page, "studio-failure.png")
        raise
    # No key in the environment: the Studio asks for one in a password box.
    page.fill(".pixelnb-key-input", TEST_KEY)
    page.click(".pixelnb-key-button")
    page.wait_for_selector(".pixelnb-keyfield", state="hidden", timeout=30_000)  # taken: the box goes away
    page.fill(".pixelnb-studio textarea", "a cute pixel art cat walking in a garden")
    # A double click, as an impatient person gives it: one job, one paid generation.
    page.dblclick(".pixelnb-studio button:has-text('Generate')")
    page.wait_for_selector(".pixelnb-studio table.pixelnb-jobs td:text-is('completed')", timeout=120_000)
    # (ipykernel 7 can handle the two clicks' messages at once; the manager makes them one
    # job. One generation is paid, which the end of this test checks.)
    grids_filled = (
        "() => [...document.querySelectorAll('.pixelnb-studio .pixelnb-framegrid')]"
        ".every(g => Number(g.dataset.frames) > 10)"
    )
    page.wait_for_function(grids_filled, timeout=60_000)
    canvas = page.wait_for_selector(".pixelnb-studio .pixelnb-player canvas.pixelnb-canvas")
    assert int(canvas.get_attribute("width")) >= 64
    shot(page, "studio-completed.png")
    page.click(".pixelnb-studio button:has-text('GIF')")
    page.wait_for_selector(".pixelnb-studio a[download$='.gif']", timeout=30_000)
    from pixelnb.store import JobStore

    recs = JobStore(root / "cache" / "jobs.sqlite3").all()
    assert fake_server.creates == 1, [(r.id[:8], r.state, r.history) for r in recs]

    page.keyboard.press("Control+s")
    saved = ""
    deadline = time.monotonic() + 30
    while "Sprite" not in saved and time.monotonic() < deadline:  # the server writes the file
        saved = (root / "studio.ipynb").read_text()
        if "Sprite" not in saved:
            page.wait_for_timeout(200)
    assert TEST_KEY not in saved, "the key reached the saved notebook"
    assert "Studio" in saved
    page.close()
