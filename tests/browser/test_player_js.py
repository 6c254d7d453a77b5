"""The widget's JavaScript alone, in headless Chromium, with a stand-in for the model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from chromium import CHROME_ARGS, CHROMIUM

WIDGETS = Path(__file__).resolve().parents[2] / "pixelnb" / "widgets"

HARNESS = """
<!doctype html><html><body><div id="root"></div>
<script type="module">
const state = %(state)s;
state.indices = new DataView(Uint8Array.from(state.indices).buffer);
state.palette = new DataView(Uint8Array.from(state.palette).buffer);
const handlers = {};
window.sent = [];
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
  save_changes: () => window.sent.push(JSON.stringify({playing: state.playing, frame: state.frame})),
  send: () => {},
};
window.model = model;
const mod = await import("data:text/javascript;base64,%(js)s");
mod.default.render({ model, el: document.getElementById("root") });
window.ready = true;
</script></body></html>
"""


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        yield browser.new_page()
        browser.close()


def load(page, frames: np.ndarray, palette: np.ndarray, **extra) -> None:
    import base64

    t, h, w = frames.shape
    state = {
        "indices": frames.ravel().tolist(),
        "palette": palette.ravel().tolist(),
        "width": w,
        "height": h,
        "n_frames": t,
        "fps": 30.0,
        "playing": True,
        "frame": 0,
        "mode": "loop",
        "zoom": 3,
        "background": "checker",
        "background_color": "#000000",
        **extra,
    }
    js = base64.b64encode((WIDGETS / "player.js").read_bytes()).decode()
    page.set_content(HARNESS % {"state": json.dumps(state), "js": js})
    page.wait_for_function("() => window.ready === true")


def drawn(page, zoom: int) -> np.ndarray:
    data = page.eval_on_selector(
        "canvas",
        "c => [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]",
    )
    w, h, px = data
    return np.array(px, np.uint8).reshape(h, w, 4)[::zoom, ::zoom, :3]


def test_draws_indices_through_the_palette_with_crisp_pixels(page):
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [250, 250, 250]], np.uint8)
    frames = np.random.default_rng(0).integers(0, 4, (3, 5, 7)).astype(np.uint8)
    load(page, frames, palette, playing=False)
    assert page.eval_on_selector("canvas", "c => [c.width, c.height]") == [21, 15]
    np.testing.assert_array_equal(drawn(page, 3), palette[frames[0]])
    assert page.locator(".pixelnb-swatch").count() == 4


def test_the_timer_in_the_browser_advances_frames(page):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    frames = np.stack([np.full((2, 2), i % 2, np.uint8) for i in range(6)])
    load(page, frames, palette)
    page.wait_for_function("() => document.querySelector('canvas').dataset.frame === '3'", timeout=5000)


def test_pause_and_scrub_report_to_the_model(page):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    load(page, np.zeros((5, 2, 2), np.uint8), palette)
    page.click(".pixelnb-play")
    sent = json.loads(page.evaluate("window.sent[window.sent.length - 1]"))
    assert sent["playing"] is False
    page.fill(".pixelnb-scrub", "4")
    page.dispatch_event(".pixelnb-scrub", "input")
    assert json.loads(page.evaluate("window.sent[window.sent.length - 1]"))["frame"] == 4
    assert page.get_attribute("canvas", "data-frame") == "4"


def test_ping_pong_turns_at_the_ends(page):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    load(page, np.zeros((3, 1, 1), np.uint8), palette, mode="pingpong", fps=8.0)
    seen = page.evaluate(
        """() => new Promise((done) => {
             const out = []; const c = document.querySelector('canvas');
             new MutationObserver(() => {
               const f = c.dataset.frame;
               if (out[out.length - 1] !== f) out.push(f);
               if (out.length >= 6) done(out);
             })
               .observe(c, { attributes: true, attributeFilter: ['data-frame'] });
           })"""
    )
    steps = [int(b) - int(a) for a, b in itertools.pairwise(seen)]
    # Ping-pong walks back down one frame at a time; a loop would only ever jump 2 -> 0.
    assert -1 in steps and 1 in steps, seen


def test_a_paused_player_stops_its_animation_loop(page):
    # A page of its own: the players the other tests rendered into the shared page keep
    # their own loops running in its window.
    page = page.context.browser.new_page()
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    load(page, np.zeros((4, 2, 2), np.uint8), palette)
    paused, resumed = page.evaluate(
        """() => new Promise((done) => {
             const orig = window.requestAnimationFrame.bind(window);
             let calls = 0;
             window.requestAnimationFrame = (f) => { calls++; return orig(f); };
             const play = document.querySelector('.pixelnb-play');
             play.click();  // pause
             calls = 0;
             let n = 0;
             const idle = () => {
               if (++n < 12) return orig(idle);
               const whilePaused = calls;
               play.click();  // play again
               let m = 0;
               const after = () => (++m < 6 ? orig(after) : done([whilePaused, calls]));
               orig(after);
             };
             orig(idle);
           })"""
    )
    assert paused == 0, f"the paused player asked for {paused} animation frames"
    assert resumed > 0, "playing again did not restart the animation loop"
    page.close()


def test_an_empty_player_shows_no_frame_count(page):
    load(page, np.zeros((0, 1, 1), np.uint8), np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    assert page.text_content(".pixelnb-label") == ""


def test_the_fps_box_applies_on_enter(page):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    load(page, np.zeros((3, 1, 1), np.uint8), palette)
    page.fill(".pixelnb-fps", "7")
    page.press(".pixelnb-fps", "Enter")
    assert page.evaluate("window.model.get('fps')") == 7
