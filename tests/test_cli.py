import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from pixelnb.cli import ProgressBar, main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixelnb", *args], capture_output=True, text=True, cwd=cwd)


def test_convert_writes_a_gif(bunny, tmp_path):
    out = tmp_path / "bunny.gif"
    r = run("convert", str(bunny), "-o", str(out), "--size", "32", "--colors", "8", "--fps", "6")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out)
    with Image.open(out) as im:
        assert im.size == (32, 18) and im.n_frames >= 20


def test_convert_with_every_option(bunny, tmp_path):
    out = tmp_path / "sheet.png"
    code = main(
        [
            "convert",
            str(bunny),
            "-o",
            str(out),
            "--size",
            "24x24",
            "--colors",
            "4",
            "--palette",
            "gameboy",
            "--dither",
            "bayer4",
            "--downscale",
            "nearest",
            "--scale",
            "2",
            "--start",
            "1",
            "--end",
            "2",
            "--fps",
            "5",
            "-q",
        ]
    )
    assert code == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert len(meta["frames"]) == 5 and meta["frames"][0]["frame"]["w"] == 48


def test_bad_input_exits_2_with_one_line(tmp_path):
    r = run("convert", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x.gif"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.mp4: no such file" in lines[0]


def test_bad_option_exits_2(bunny, tmp_path):
    r = run("convert", str(bunny), "-o", str(tmp_path / "x.gif"), "--colors", "300")
    assert r.returncode == 2 and "colors must be from 2 to 256" in r.stderr
    r = run("convert", str(bunny), "-o", str(tmp_path / "x.gif"), "--dither", "nope")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_demo_writes_its_files_and_prints_them(tmp_path):
    r = run("demo", "--out", "results", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    printed = [line for line in r.stdout.splitlines() if line.startswith("results")]
    assert printed == ["results/demo.gif", "results/demo.png", "results/demo.json", "results/demo.html"]
    for name in printed:
        assert (tmp_path / name).stat().st_size > 1000


def test_convert_stays_lean():
    code = (
        "import sys, pixelnb.cli\n"
        "from pixelnb.data import sample_clip\n"
        "pixelnb.cli.main(['convert', str(sample_clip()), '-o', sys.argv[1], '--size', '16', '-q'])\n"
        "mods = ('ipywidgets', 'anywidget', 'matplotlib', 'lumaai', 'httpx')\n"
        "heavy = [m for m in mods if m in sys.modules]\n"
        "print('heavy:' + ','.join(heavy))\n"
    )
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"lean-{os.getpid()}.gif")
    r = subprocess.run([sys.executable, "-c", code, out], capture_output=True, text=True, check=True)
    os.unlink(out)
    assert r.stdout.strip().splitlines()[-1] == "heavy:"


def test_progress_bar_draws_on_a_terminal_only():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream)
        bar("sampling", 0.5)
        bar("quantizing", 1.0)
        bar.close()
    assert "sampling" in tty.getvalue() and "%" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_demo_output_is_the_bundled_clip(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "-q"]) == 0
    with Image.open(tmp_path / "demo.gif") as im:
        assert im.size == (256, 144)
        assert np.asarray(im.convert("RGB")).std() > 10


def test_convert_makes_a_transparent_cropped_loop(tmp_path):
    """--background auto --loop auto --crop: a clear index in the GIF, frames cropped."""
    import subprocess
    import sys

    from PIL import Image

    from conftest import SHARED
    from media import encode
    from pixelnb.testing.sprites import load_sprite, sprite_clip

    clip = sprite_clip(load_sprite(SHARED / "sprites" / "mr_player_run"), "solid", hold=2, repeats=3, seed=8)
    src = encode(tmp_path / "c.mp4", clip.frames, fps=24, crf=22)
    out = tmp_path / "o.gif"
    run = subprocess.run(
        [sys.executable, "-m", "pixelnb", "convert", str(src), "-o", str(out), "--size", "40", "--fps", "24",
         "--background", "auto", "--loop", "auto", "--crop", "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    with Image.open(out) as im:
        assert im.info.get("transparency") == 0
        assert im.size[0] < 40


def test_a_background_that_is_not_a_colour_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "pixelnb", "convert", "x.mp4", "-o", str(tmp_path / "o.gif"),
         "--background", "grn"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "background must be" in run.stderr


def test_convert_like_reuses_the_recorded_options_and_flags_win(bunny, square_clip, tmp_path):
    from pixelnb import provenance

    old = tmp_path / "old.gif"
    args = [
        "--size",
        "20",
        "--colors",
        "5",
        "--fps",
        "3",
        "--dither",
        "bayer4",
        "--palette",
        "pico-8",
        "--scale",
        "2",
        "--end",
        "1.5",
        "-q",
    ]
    assert main(["convert", str(bunny), "-o", str(old), *args]) == 0
    new = tmp_path / "new.webp"
    assert main(["convert", "--like", str(old), str(square_clip), "-o", str(new), "-q"]) == 0
    a, b = provenance(old), provenance(new)
    assert b["options"] == a["options"] and b["scale"] == 2
    assert b["source"]["name"] == square_clip.name
    with Image.open(new) as im:
        assert im.size == (40, 26)  # 20x13 cells (96x64 source), twice
    # the same input and the same recorded options: the same pixels
    again = tmp_path / "again.gif"
    assert main(["convert", "--like", str(old), str(bunny), "-o", str(again), "-q"]) == 0
    with Image.open(old) as x, Image.open(again) as y:
        assert x.n_frames == y.n_frames and np.array_equal(np.asarray(x), np.asarray(y))
    # a flag on the command line overrides the record
    assert main(["convert", "--like", str(old), str(bunny), "-o", str(tmp_path / "c.gif"), "--colors", "3",
                 "-q"]) == 0  # fmt: skip
    assert provenance(tmp_path / "c.gif")["options"]["colors"] == 3
    assert provenance(tmp_path / "c.gif")["options"]["dither"] == "bayer4"


def test_convert_like_a_file_without_a_record_is_one_line_and_exit_2(bunny, tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.gif")
    r = run("convert", "--like", str(tmp_path / "plain.gif"), str(bunny), "-o", str(tmp_path / "x.gif"))
    assert r.returncode == 2 and "holds no pixelnb provenance" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
