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
for (const k of ["indices", "palette", "data"]) {
  if (state[k] !== undefined) state[k] = new DataView(Uint8Array.from(state[k]).buffer);
}
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
// A custom message from the kernel, as anywidget hands it over: (content, buffers).
window.message = (msg, buffers) => (handlers["msg:custom"] || []).forEach((f) => f(msg, buffers));
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
    if t:  # the frames are decoded (and inflated) asynchronously: wait for the first drawing
        page.wait_for_function("() => document.querySelector('.pixelnb-label').textContent !== ''")


def load_grid(page, **state) -> None:
    import base64

    js = base64.b64encode((WIDGETS / "framegrid.js").read_bytes()).decode()
    full = {
        "data": [],
        "encoding": "",
        "palette": [],
        "columns": 0,
        "width": 0,
        "height": 0,
        "n_frames": 0,
        "zoom": 2,
        "title": "t",
        "view": "grid",
        "fps": 12.0,
        "display_width": 256,
        **state,
    }
    page.set_content(HARNESS % {"state": json.dumps(full), "js": js})
    page.wait_for_function("() => window.ready === true")


def grid_frames(page) -> np.ndarray:
    data = page.evaluate(
        """() => [...document.querySelectorAll('.pixelnb-grid canvas')].map(c => [c.width, c.height,
             Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)])"""
    )
    return np.stack([np.array(px, np.uint8).reshape(h, w, 4)[..., :3] for w, h, px in data])


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


def test_deflated_indices_are_inflated_in_the_browser(page):
    import zlib

    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    frames = np.random.default_rng(1).integers(0, 3, (4, 6, 9)).astype(np.uint8)
    load(page, np.zeros_like(frames), palette, playing=False)  # raw zeros first
    page.evaluate(
        "d => { window.model.set('encoding', 'deflate');"
        " window.model.set('indices', new DataView(Uint8Array.from(d).buffer)); }",
        list(zlib.compress(frames.tobytes())),
    )
    want = palette[frames[0]]
    page.wait_for_function(
        "rgb => { const c = document.querySelector('canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, 1, 1).data;"
        " return d[0] === rgb[0] && d[1] === rgb[1] && d[2] === rgb[2]; }",
        arg=want[0, 0].tolist(),
    )
    np.testing.assert_array_equal(drawn(page, 3), want)


def test_a_grid_draws_deflated_pixel_art_exactly(page):
    import zlib

    palette = np.array([[10, 20, 30], [200, 100, 0], [0, 250, 250]], np.uint8)
    frames = np.random.default_rng(2).integers(0, 3, (5, 4, 6)).astype(np.uint8)
    load_grid(
        page,
        data=list(zlib.compress(frames.tobytes())),
        encoding="indexed",
        palette=palette.ravel().tolist(),
        width=6,
        height=4,
        n_frames=5,
    )
    page.wait_for_function("() => document.querySelectorAll('.pixelnb-grid canvas').length === 5")
    np.testing.assert_array_equal(grid_frames(page), palette[frames])


def test_a_grid_cuts_a_jpeg_sheet_into_its_frames(page):

    from pixelnb.widgets import FrameGrid

    frames = np.zeros((5, 6, 10, 3), np.uint8)  # 10x6: cells of 16x8 in the sheet
    for i in range(5):
        frames[i, :, :] = (40 * i, 255 - 40 * i, 128)  # flat colours survive JPEG closely
    g = FrameGrid()
    g.append(frames)
    g.finish()  # the sheet Python makes, cut by the browser
    load_grid(page, data=list(g.data), encoding="jpeg", columns=g.columns, width=10, height=6, n_frames=5)
    page.wait_for_function("() => document.querySelectorAll('.pixelnb-grid canvas').length === 5")
    assert np.abs(grid_frames(page).astype(int) - frames.astype(int)).max() <= 6


def test_live_frames_are_drawn_once_each_and_play_shows_the_newest(page):
    load_grid(page, view="play", display_width=120)
    rgb = np.zeros((2, 3, 4, 3), np.uint8)
    rgb[0, ..., 0] = 255
    rgb[1, ..., 2] = 255
    page.evaluate(
        "d => window.message({type: 'append', count: 2, width: 4, height: 3},"
        " [new DataView(Uint8Array.from(d).buffer)])",
        rgb.ravel().tolist(),
    )
    assert page.evaluate("document.querySelector('.pixelnb-framegrid').dataset.frames") == "2"
    screen = page.evaluate(
        "() => { const c = document.querySelector('.pixelnb-screen');"
        " return [c.dataset.frame, c.getBoundingClientRect().width,"
        " Array.from(c.getContext('2d').getImageData(0, 0, 1, 1).data)]; }"
    )
    assert screen[0] == "1" and screen[1] == 120 and screen[2][:3] == [0, 0, 255]
    page.evaluate("() => window.message({type: 'clear'}, [])")
    assert page.evaluate("document.querySelector('.pixelnb-framegrid').dataset.frames") == "0"
