"""The Studio in a real browser: time to the result, widget traffic, saved notebook size.

    .venv/bin/python benchmarks/studio_bench.py [--repeat 3]

A real JupyterLab (pixelnb.testing.jupyter) and Debian's headless Chromium (Playwright).
For a 10 s 720p clip and a 10 s 1080p clip (both made once from ../shared/clips'
cockatoo), and the bundled clip:

- **studio**: the Convert tab, from the click on Convert until the browser shows the
  finished result (the "Complete!" line, the player drawn, the source view holding every
  frame); the same options as the anchor (64 px, 16 colours, 12 fps, no grid search);
- **convert (CLI)**: `python -m pixelnb convert CLIP -o out.gif --size 64 --colors 16
  --fps 12` as a fresh process, the anchor the issue names (budget: studio ≤ 1.5×),
  measured first, with no browser or Jupyter running beside it;
- **pixelate (in kernel)**: the same conversion as a call in a warm process (what the
  Studio's kernel runs), for scale;
- **traffic**: the bytes the page received over the kernel's websocket during the
  conversion, at 6, 12 and 24 fps (linear in the frames: bytes/frame stays put);
- **saved**: the notebook saved with widget state on, after a generation (the fake
  Dream Machine serving the 10 s 720p clip) and the 10 s 720p conversion (budget 1 MB).

Results go to stdout and the Studio section of benchmarks/README.md is written by hand
from them.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell  # noqa: E402
from run import SHARED_CLIPS, WORK, convert, make_1080p, timed  # noqa: E402

import pixelnb  # noqa: E402

KEY = "luma-bench-0123456789abcdef"
STUDIO = ".pixelnb-studio"


def clips() -> list[Path]:
    WORK.mkdir(exist_ok=True)
    cockatoo = SHARED_CLIPS / "cockatoo_720p_yuv420p.mp4"
    out = []
    if cockatoo.exists():
        out.append(make_1080p(cockatoo, WORK / "cockatoo_720p_10s.mp4", size="1280:720"))
        out.append(make_1080p(cockatoo, WORK / "cockatoo_1080p_10s.mp4"))
    out.append(pixelnb.data.sample_clip())
    return out


class Traffic:
    """Bytes the page receives over its websockets (the kernel's messages)."""

    def __init__(self, page) -> None:
        self.received = 0
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", lambda payload: self._add(payload))

    def _add(self, payload) -> None:
        self.received += len(payload)


def open_studio(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    traffic = Traffic(page)
    page.goto(server.lab("studio.ipynb", "bench"))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=60_000)
    page.click(".jp-Notebook")
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_selector(f"{STUDIO} .pixelnb-keyfield", timeout=120_000)
    return page, traffic


def studio_convert(page, traffic: Traffic, clip: Path, fps: float) -> tuple[float, int, int]:
    """Seconds from the click to the finished result in the browser, bytes received, frames."""
    page.click(".lm-TabBar-tabLabel:text-is('Convert a video')")
    page.fill(f"{STUDIO} input[placeholder='path/to/video.mp4']", str(clip))
    fps_box = page.locator(f"{STUDIO} .widget-text:has(label:text-is('fps')) input").first
    fps_box.fill(f"{fps:g}")
    fps_box.press("Tab")  # the box sends its value when it loses the focus
    page.wait_for_timeout(500)  # let the option reach the kernel before the click
    done = page.locator(f"{STUDIO} .pixelnb-complete")
    shown = int(done.get_attribute("data-result")) if done.count() else 0
    before = traffic.received
    t0 = time.monotonic()
    page.click(f"{STUDIO} button.pixelnb-action:text-is('Convert')")
    page.wait_for_function(
        """(shown) => {
          const s = document.querySelector('.pixelnb-studio');
          const done = s.querySelector('.pixelnb-complete');
          if (!done || Number(done.dataset.result) <= shown) return false;
          const n = Number(done.textContent.match(/Complete! (\\d+)/)[1]);
          const label = s.querySelector('.pixelnb-player .pixelnb-label').textContent;
          const source = s.querySelector('.pixelnb-side .pixelnb-framegrid');
          return label.endsWith('/' + n) && Number(source.dataset.frames) === n;
        }""",
        arg=shown,
        timeout=600_000,
        polling="raf",
    )
    seconds = time.monotonic() - t0
    n = int(page.locator(f"{STUDIO} .pixelnb-complete").inner_text().split()[1])
    said = page.locator(f"{STUDIO} .widget-html:has-text('converted ')").last.inner_text()
    print(f"  {clip.name} {fps:g} fps: browser {seconds:.2f} s, the kernel says: {said.strip()}", flush=True)
    page.wait_for_timeout(500)  # the last state messages
    return seconds, traffic.received - before, n


def main() -> None:
    from playwright.sync_api import sync_playwright

    from pixelnb.testing import FakeLuma
    from pixelnb.testing.jupyter import JupyterServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    found = clips()
    root = Path(tempfile.mkdtemp(prefix="pixelnb-studio-bench-"))
    nb = nbformat.v4.new_notebook(cells=[new_code_cell("import pixelnb\nstudio = pixelnb.Studio()\nstudio")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "studio.ipynb")
    rows = []
    video = found[0]
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {sys.platform}")
    # The anchors first, with no browser or Jupyter running beside them.
    anchors = {}
    for clip in found:
        cli = [timed(convert(clip, WORK / "studio-anchor.gif"))[0] for _ in range(args.repeat)]
        kernel = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pixelnb.pixelate(clip, size=64, colors=16, fps=12)
            kernel.append(time.perf_counter() - t0)
        anchors[clip] = statistics.median(cli), statistics.median(kernel)
    with (
        FakeLuma(video, api_key=KEY, queue_seconds=0.3, dream_seconds=1.0) as fake,
        JupyterServer(
            root,
            {"LUMAAI_BASE_URL": fake.base_url, "LUMAAI_API_KEY": KEY, "PIXELNB_CACHE": str(root / "cache")},
        ) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        server.save_widget_state(True)
        page, traffic = open_studio(browser, server)
        for clip in found:
            info = pixelnb.probe(clip)
            studio = [studio_convert(page, traffic, clip, 12) for _ in range(args.repeat)]
            s, (c, k) = statistics.median(x[0] for x in studio), anchors[clip]
            rows.append(
                (
                    clip.name,
                    f"{info.width}x{info.height}",
                    f"{info.duration or 0:.1f}",
                    studio[0][2],
                    round(s, 2),
                    round(c, 2),
                    round(k, 2),
                    round(s / c, 2),
                    round(statistics.median(x[1] for x in studio) / 1e3),
                )
            )
            print(rows[-1], flush=True)
        print(
            "\n| clip | size | s | frames | studio s | convert (CLI) s | pixelate in kernel s"
            " | studio / CLI | traffic kB |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(map(str, r)) + " |")
        print("\nTraffic against frames (10 s 720p):\n")
        print("| fps | frames | traffic kB | bytes per frame |\n|---|---|---|---|")
        for fps in (6, 12, 24):
            _, got, n = studio_convert(page, traffic, found[0], fps)
            print(f"| {fps} | {n} | {got / 1e3:.0f} | {got / n:.0f} |", flush=True)

        # The saved notebook after a generation and a 10 s 720p conversion.
        page.click(".lm-TabBar-tabLabel:text-is('Generate')")
        page.fill(f"{STUDIO} .pixelnb-prompt textarea", "a cute pixel art cockatoo on a branch")
        page.click(f"{STUDIO} button.pixelnb-action:text-is('Generate')")
        page.wait_for_selector(f"{STUDIO} .pixelnb-complete", timeout=300_000)
        studio_convert(page, traffic, found[0], 12)
        path = root / "studio.ipynb"
        before = path.stat().st_mtime_ns
        page.keyboard.press("Control+s")
        while path.stat().st_mtime_ns == before or "widget-state" not in path.read_text():
            page.wait_for_timeout(200)
        size = path.stat().st_size
        print(
            f"\nsaved notebook with widget state: {size / 1e3:.0f} kB (budget 1000 kB); "
            f"generations paid: {fake.creates}"
        )
        browser.close()


if __name__ == "__main__":
    main()
