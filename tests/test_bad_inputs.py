"""Bad inputs, as a new user makes them: through the command line and through the API.

Every case must give a pixelnb error that names the problem (the CLI: one line on stderr,
exit code 2, no traceback), and no case that involves Luma may create a generation: the
fake server counts what would be billed. ``pytest -s tests/test_bad_inputs.py -k table``
prints the table quoted in the closing note.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

import pixelnb
from conftest import TEST_KEY
from pixelnb.cli import main
from pixelnb.errors import PixelnbError

CLIP = str(pixelnb.data.sample_clip())
LONG = "a" * 300

# (id, argv with {clip} and {tmp} filled in, a word the message must contain)
CONVERT = [
    ("size-0", ["--size", "0"], "size"),
    ("size-neg", ["--size", "-5"], "size"),
    ("size-text", ["--size", "big"], "size"),
    ("size-huge", ["--size", "5000"], "size"),
    ("size-larger-than-source", ["--size", "900"], "larger than the source"),
    ("size-0x10", ["--size", "0x10"], "size"),
    ("colors-1", ["--colors", "1"], "colors"),
    ("colors-0", ["--colors", "0"], "colors"),
    ("colors-999", ["--colors", "999"], "colors"),
    ("colors-text", ["--colors", "many"], "colors"),
    ("fps-0", ["--fps", "0"], "fps"),
    ("fps-neg", ["--fps", "-1"], "fps"),
    ("fps-1000", ["--fps", "1000"], "fps"),
    ("fps-nan", ["--fps", "nan"], "fps"),
    ("fps-inf", ["--fps", "inf"], "fps"),
    ("scale-0", ["--scale", "0"], "scale"),
    ("scale-100", ["--scale", "100"], "scale"),
    ("scale-too-big", ["--size", "320", "--scale", "64"], "limit"),
    ("palette-unknown", ["--palette", "pico-9"], "palette"),
    ("palette-missing-file", ["--palette", "{tmp}/none.hex"], "none.hex"),
    ("dither-unknown", ["--dither", "bayer3"], "dither"),
    ("downscale-unknown", ["--downscale", "cubic"], "downscale"),
    ("mode-with-dither", ["--downscale", "mode", "--dither", "bayer4"], "dither"),
    ("grid-unknown", ["--grid", "on"], "grid"),
    ("start-neg", ["--start", "-1"], "start"),
    ("end-before-start", ["--start", "3", "--end", "2"], "end"),
    ("start-past-end", ["--start", "60"], "no frames"),
    ("backend-unknown", ["--backend", "opencv"], "backend"),
]
OUTPUTS = [
    ("out-missing-folder", "{tmp}/nope/x.gif", "does not exist"),
    ("out-mp4", "{tmp}/x.mp4", ".mp4"),
    ("out-txt", "{tmp}/x.txt", ".txt"),
    ("out-long-name", "{tmp}/" + LONG + ".gif", "name"),
    ("out-newline", "{tmp}/a\nb/x.gif", "does not exist"),
]
INPUTS = [
    ("in-missing", "{tmp}/missing.mp4", "no such file"),
    ("in-folder", "{tmp}", "folder"),
    ("in-empty", "{tmp}/empty.mp4", "empty"),
    ("in-garbage", "{tmp}/garbage.mp4", "not a readable video"),
    ("in-truncated", "{tmp}/cut.mp4", "truncated"),
    ("in-long-name", "{tmp}/" + LONG + ".mp4", "cannot be opened"),
    ("in-newline", "{tmp}/a\nb.mp4", "no such file"),
    ("in-absurd-y4m", "{tmp}/absurd.y4m", "absurd"),
    ("in-text-file", "{tmp}/notes.txt", "not a readable video"),
]
GENERATE = [
    ("gen-size-0", ["--size", "0"], "size"),
    ("gen-size-larger-than-video", ["--size", "900"], "larger than the"),
    ("gen-fps-0", ["--fps", "0"], "fps"),
    ("gen-fps-1000", ["--fps", "1000"], "fps"),
    ("gen-scale-0", ["--scale", "0"], "scale"),
    ("gen-scale-too-big", ["--size", "320", "--scale", "64"], "limit"),
    ("gen-colors-1", ["--colors", "1"], "colors"),
    ("gen-palette-unknown", ["--palette", "nope"], "palette"),
    ("gen-mode-with-dither", ["--downscale", "mode", "--dither", "fs"], "dither"),
    ("gen-start-neg", ["--start", "-2"], "start"),
    ("gen-aspect", ["--aspect-ratio", "2:1"], "aspect_ratio"),
    ("gen-model", ["--model", "ray-9"], "model"),
    ("gen-keyframe-ftp", ["--keyframe", "ftp://example.com/a.png"], "http(s) image URL"),
    ("gen-keyframe-word", ["--keyframe", "cat"], "generation id"),
    ("gen-loop-end", ["--loop", "--end-keyframe", "https://example.com/b.png"], "loop"),
    ("gen-out-mp4", ["-o", "{tmp}/g.mp4"], ".mp4"),
    ("gen-out-missing-folder", ["-o", "{tmp}/none/g.gif"], "does not exist"),
    ("gen-out-long", ["-o", "{tmp}/" + LONG + ".gif"], "name"),
    ("gen-prompt-short", ["--prompt-override", "hi"], "too short"),
    ("gen-prompt-long", ["--prompt-override", "x" * 6000], "too long"),
    ("gen-no-key", ["--no-key"], "API key"),
]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "empty.mp4").write_bytes(b"")
    # Seeded: some random bytes pass for a subtitle file, which is another message.
    (tmp_path / "garbage.mp4").write_bytes(random.Random(0).randbytes(4096))
    (tmp_path / "notes.txt").write_text("not a video\n")
    data = Path(CLIP).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "absurd.y4m").write_bytes(
        b"YUV4MPEG2 W30000 H30000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(999)
    )
    return tmp_path


def _fill(items: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)).replace("{clip}", CLIP) for a in items]


def _one_line_error(code: int, err: str, word: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, f"more than one line: {err!r}"
    assert lines[0].startswith("pixelnb"), lines[0]
    assert word.lower() in lines[0].lower(), f"{word!r} not in {lines[0]!r}"


@pytest.mark.parametrize(("name", "argv", "word"), CONVERT, ids=[c[0] for c in CONVERT])
def test_convert_option(name, argv, word, files, capsys):
    out = files / "out.gif"
    code = main(["convert", CLIP, "-o", str(out), "-q", *_fill(argv, files)])
    _one_line_error(code, capsys.readouterr().err, word)
    assert not out.exists()


@pytest.mark.parametrize(("name", "target", "word"), OUTPUTS, ids=[c[0] for c in OUTPUTS])
def test_convert_output(name, target, word, files, capsys):
    code = main(["convert", CLIP, "-o", _fill([target], files)[0], "-q"])
    _one_line_error(code, capsys.readouterr().err, word)


@pytest.mark.parametrize(("name", "source", "word"), INPUTS, ids=[c[0] for c in INPUTS])
def test_convert_input(name, source, word, files, capsys):
    code = main(["convert", _fill([source], files)[0], "-o", str(files / "o.gif"), "-q"])
    _one_line_error(code, capsys.readouterr().err, word)


@pytest.mark.parametrize(("name", "argv", "word"), GENERATE, ids=[c[0] for c in GENERATE])
def test_generate_checks_everything_before_paying(name, argv, word, files, fake, monkeypatch, capsys):
    monkeypatch.setenv("LUMAAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("LUMAAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("PIXELNB_CACHE", str(files / "cache"))
    monkeypatch.chdir(files)
    prompt, args = "a cat walking", _fill(argv, files)
    if args[:1] == ["--prompt-override"]:
        prompt, args = args[1], args[2:]
    if args == ["--no-key"]:
        monkeypatch.delenv("LUMAAI_API_KEY")
        args = []
    if "-o" not in args:
        args = ["-o", str(files / "g.gif"), *args]
    code = main(["generate", prompt, "-q", "--store", str(files / "jobs.sqlite3"), *args])
    _one_line_error(code, capsys.readouterr().err, word)
    assert fake.creates == 0, f"{name}: a generation was paid for a bad input"


# -- the API ---------------------------------------------------------------------------------
API_PIXELATE = [
    ("size-text", {"size": "64"}, "size"),
    ("size-float", {"size": 64.5}, "size"),
    ("size-bool", {"size": True}, "size"),
    ("size-triple", {"size": (1, 2, 3)}, "size"),
    ("size-none", {"size": None}, "size"),
    ("colors-float", {"colors": 16.0}, "colors"),
    ("colors-text", {"colors": "16"}, "colors"),
    ("fps-text", {"fps": "12"}, "fps"),
    ("fps-bool", {"fps": True}, "fps"),
    ("start-text", {"start": "1"}, "start"),
    ("end-zero", {"end": 0}, "end"),
    ("hysteresis-text", {"hysteresis": "x"}, "hysteresis"),
    ("hysteresis-neg", {"hysteresis": -1}, "hysteresis"),
    ("exact-text", {"exact": "yes"}, "exact"),
    ("palette-int", {"palette": 5}, "palette"),
    ("palette-bad-hex", {"palette": ["#12"]}, "colour"),
    ("dither-none-object", {"dither": None}, "dither"),
    ("grid-bool", {"grid": True}, "grid"),
    ("mode-dither", {"downscale": "mode", "dither": "bayer2"}, "dither"),
    ("backend-int", {"backend": 1}, "backend"),
]


@pytest.mark.parametrize(("name", "kwargs", "word"), API_PIXELATE, ids=[c[0] for c in API_PIXELATE])
def test_pixelate_refuses(name, kwargs, word):
    with pytest.raises(PixelnbError) as info:
        pixelnb.pixelate(CLIP, **kwargs)
    assert word in str(info.value)


@pytest.mark.parametrize("source", [None, 12, b"clip.mp4", ["a.mp4"]])
def test_pixelate_refuses_a_source_that_is_not_a_path(source):
    with pytest.raises(pixelnb.OptionError, match="source must be"):
        pixelnb.pixelate(source)


API_GENERATE = [
    ("pixel-text", {"pixel": "small"}, "pixel options"),
    ("pixel-size-0", {"pixel": {"size": 0}}, "size"),
    ("pixel-fps-0", {"pixel": {"fps": 0}}, "fps"),
    ("pixel-unknown", {"pixel": {"sizes": 3}}, "unknown pixel options"),
    ("pixel-size-text", {"pixel": {"size": "64"}}, "size"),
    ("pixel-too-big", {"pixel": {"size": 600}}, "larger than the"),
    ("concepts-text", {"concepts": "dolly_zoom"}, "concepts"),
    ("concepts-ints", {"concepts": [1, 2]}, "concepts"),
    ("loop-text", {"loop": "no"}, "loop"),
    ("loop-int", {"loop": 1}, "loop"),
    ("keyframe-ftp", {"keyframes": "ftp://example.com/a.png"}, "http(s)"),
    ("keyframe-int", {"keyframes": 5}, "keyframes"),
    ("keyframe-bad-key", {"keyframes": {"frame2": "https://e.com/a.png"}}, "frame0"),
    ("model-int", {"model": 2}, "model"),
    ("duration", {"duration": "7s"}, "duration"),
    ("resolution", {"resolution": "8k"}, "resolution"),
    ("prompt-int", {"prompt": 12345}, "prompt"),
    ("prompt-empty", {"prompt": "  "}, "prompt"),
]


@pytest.mark.parametrize(("name", "kwargs", "word"), API_GENERATE, ids=[c[0] for c in API_GENERATE])
def test_generate_refuses_before_paying(name, kwargs, word, manager, fake):
    from pixelnb.jobs import generate

    kw = {"prompt": "a cat walking", **kwargs}
    prompt = kw.pop("prompt")
    with pytest.raises(PixelnbError) as info:
        generate(prompt, manager=manager, **kw)
    assert word.lower() in str(info.value).lower()
    assert fake.creates == 0
    assert manager.store.all() == []


def test_table(capsys):
    """The count quoted in the closing note (run with -s to see it)."""
    cli = len(CONVERT) + len(OUTPUTS) + len(INPUTS) + len(GENERATE)
    api = len(API_PIXELATE) + 4 + len(API_GENERATE)
    with capsys.disabled():
        print(f"\nbad inputs: {cli} through the CLI, {api} through the API, {cli + api} in all")
    assert cli + api >= 60


def test_a_bad_option_in_a_fresh_process_is_one_line(tmp_path):
    """The whole command, as a shell runs it: no traceback from any import or exit path."""
    r = subprocess.run(
        [sys.executable, "-m", "pixelnb", "convert", CLIP, "-o", str(tmp_path / "x.gif"), "--size", "64x0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    _one_line_error(r.returncode, r.stderr, "size")
