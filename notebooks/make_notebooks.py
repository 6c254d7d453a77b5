"""Write the example notebooks (outputs stripped). Run: python notebooks/make_notebooks.py"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

QUICKSTART = [
    new_markdown_cell(
        "# pixelnb quickstart\n\nThe bundled clip (Big Buck Bunny, © Blender Foundation, CC-BY 3.0) becomes a "
        "64-pixel, 16-colour, 12 fps animation with one palette for every frame. No API key needed."
    ),
    new_code_cell(
        "import pixelnb\nfrom pixelnb.data import sample_clip\n\n"
        "sprite = pixelnb.pixelate(sample_clip(), size=64, colors=16, fps=12)\nsprite"
    ),
    new_markdown_cell("The player runs in the browser: play, pause, scrub, change the speed, loop or ping-pong, zoom."),
    new_code_cell("player = pixelnb.Player(sprite)\nplayer"),
    new_code_cell("grid = pixelnb.FrameGrid(sprite, title='every frame')\ngrid"),
    new_markdown_cell("## Exports"),
    new_code_cell(
        "from pathlib import Path\n\nout = Path('quickstart-out')\nout.mkdir(exist_ok=True)\n"
        "[str(sprite.save(out / 'bunny.gif', scale=4)), str(sprite.save(out / 'bunny.png')),\n"
        " str(sprite.save(out / 'bunny.webp')), str(sprite.save_palette(out / 'bunny.hex'))]"
    ),
    new_markdown_cell("## Palettes compared"),
    new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        "names = ['auto', 'pico-8', 'gameboy', 'sweetie-16']\n"
        "fig, axes = plt.subplots(1, len(names), figsize=(12, 2.4))\n"
        "for ax, name in zip(axes, names):\n"
        "    still = pixelnb.pixelate(sample_clip(), size=64, palette=name, start=2.5, end=2.6)\n"
        "    ax.imshow(still.to_rgb()[0], interpolation='nearest')\n"
        "    ax.set_title(name)\n    ax.axis('off')"
    ),
    new_code_cell("sprite.palette.plot();"),
]

GENERATE = [
    new_markdown_cell(
        "# Generate with Luma's Dream Machine\n\nSet `LUMAAI_API_KEY` first (or use the key field of the Studio). "
        "CI runs this notebook against pixelnb's fake server through `LUMAAI_BASE_URL`.\n\n"
        "Re-running it finds the finished generation in the job store instead of paying again. "
        "The next cell holds the parameters (papermill: `-p prompt ...`)."
    ),
    new_code_cell("prompt = 'a cute pixel art cat walking in a garden'", metadata={"tags": ["parameters"]}),
    new_code_cell(
        "import pixelnb\n\n"
        "job = pixelnb.generate(prompt, pixel={'size': 64, 'colors': 16, 'fps': 12})\njob"
    ),
    new_code_cell("sprite = await job\nsprite"),
    new_code_cell("[(state, detail) for state, _, detail in job.history]"),
    new_code_cell("pixelnb.Player(sprite)"),
    new_markdown_cell(
        "## Exports\n\nEach file records where it came from: `pixelnb.provenance(path)` reads it back."
    ),
    new_code_cell(
        "from pathlib import Path\n\nout = Path('generate-out')\nout.mkdir(exist_ok=True)\n"
        "saved = [sprite.save(out / f'cat.{ext}') for ext in ('gif', 'png', 'apng', 'webp', 'html', 'zip')]\n"
        "pixelnb.provenance(saved[0])['generation']['id']"
    ),
    new_markdown_cell(
        "## A replay bundle\n\nThe generation and its video, packed: with `PIXELNB_BUNDLE=generate.pixelnb.zip` "
        "this notebook re-runs with no key and pays nothing (see docs/reproducibility.md)."
    ),
    new_code_cell("pixelnb.bundle('generate.pixelnb.zip')"),
    new_markdown_cell("## The Studio: the whole app in one cell"),
    new_code_cell("studio = pixelnb.Studio()\nstudio"),
]

GALLERY = [
    new_markdown_cell("# Gallery: presets, dithering and sizes"),
    new_code_cell(
        "import pixelnb\nimport matplotlib.pyplot as plt\nfrom pathlib import Path\nfrom pixelnb.data import sample_clip\n\n"
        "shared = Path('..', '..', 'shared', 'clips')\n"
        "clips = [sample_clip()] + (sorted(shared.glob('*.mp4'))[:2] if shared.exists() else [])\n"
        "[c.name for c in clips]"
    ),
    new_code_cell(
        "presets = ['auto', 'pico-8', 'db16', 'endesga-32', 'nes', '1bit']\n"
        "fig, axes = plt.subplots(len(clips), len(presets), figsize=(14, 2.2 * len(clips)), squeeze=False)\n"
        "for row, clip in zip(axes, clips):\n"
        "    for ax, name in zip(row, presets):\n"
        "        s = pixelnb.pixelate(clip, size=64, palette=name, start=0.5, end=0.6)\n"
        "        ax.imshow(s.to_rgb()[0], interpolation='nearest'); ax.set_title(name, fontsize=8); ax.axis('off')"
    ),
    new_code_cell(
        "dithers = ['none', 'bayer2', 'bayer4', 'bayer8', 'fs']\n"
        "fig, axes = plt.subplots(1, len(dithers), figsize=(14, 2.4))\n"
        "for ax, d in zip(axes, dithers):\n"
        "    s = pixelnb.pixelate(sample_clip(), size=64, colors=6, dither=d, start=2.5, end=2.6)\n"
        "    ax.imshow(s.to_rgb()[0], interpolation='nearest'); ax.set_title(d); ax.axis('off')"
    ),
    new_code_cell(
        "sizes = [16, 32, 48, 96]\n"
        "fig, axes = plt.subplots(1, len(sizes), figsize=(14, 2.4))\n"
        "for ax, size in zip(axes, sizes):\n"
        "    s = pixelnb.pixelate(sample_clip(), size=size, start=2.5, end=2.6)\n"
        "    ax.imshow(s.to_rgb()[0], interpolation='nearest'); ax.set_title(f'{size} px'); ax.axis('off')"
    ),
    new_code_cell("pixelnb.pixelate(sample_clip(), size=48, colors=8, palette='sweetie-16', dither='bayer4', fps=10)"),
]


def main() -> None:
    for name, cells in (("quickstart", QUICKSTART), ("generate", GENERATE), ("gallery", GALLERY)):
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        })
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
