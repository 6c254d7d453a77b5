"""The project's own files agree with each other: dependencies, data, public API."""

import re
from pathlib import Path

import pixelnb

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=!~; \[]", s.strip(), maxsplit=1)[0].lower() for s in specs}


def test_environment_yml_lists_the_runtime_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    env = [
        line.strip()[2:]
        for line in text.splitlines()
        if line.strip().startswith("- ") and not line.strip().startswith("- -")
    ]
    env_names = _names(env) - {"python", "pip", "pip:"}
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dask"]
    assert env_names == _names(deps) | _names(extra) | {"distributed"}


def test_sample_clip_ships_with_the_package():
    clip = pixelnb.data.sample_clip()
    assert clip.is_file() and 50_000 < clip.stat().st_size < 400_000
    info = pixelnb.probe(clip)
    assert (info.width, info.height) == (480, 270)


def test_public_api_is_small_and_importable():
    for name in pixelnb.__all__:
        assert hasattr(pixelnb, name), name
    assert {"pixelate", "sample", "Sprite", "Palette", "Clip"} <= set(pixelnb.__all__)


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make demo" in head and "make test" in head


def test_all_is_exactly_the_public_api():
    """Pinned, like httpx's: a name added or dropped is a decision, not an accident."""
    assert set(pixelnb.__all__) == {
        "PRESETS", "AuthError", "BatchResult", "BundleError", "Clip", "DiskFull", "DownloadError",
        "FrameGrid", "Gallery",
        "GenerationFailed", "InternalError", "Job", "JobCancelled", "JobManager", "LumaError",
        "LumaUnavailable",
        "ModerationError", "OfflineError", "OptionError", "Palette", "PaletteError", "PixelOptions",
        "PixelnbError",
        "Player", "QuotaError", "RequestError", "Sprite", "SpriteSet", "StoreError", "Studio",
        "SweepResult", "VideoError",
        "__version__", "animate", "bundle", "convert_many", "credits", "data", "design", "generate",
        "pixelate",
        "pixelate_set", "probe", "restyle",
        "provenance",
        "resume", "sample", "sweep", "use_bundle",
    }  # fmt: skip


def test_dir_shows_the_lazily_loaded_names():
    assert {"Studio", "Player", "FrameGrid", "generate", "Job", "JobManager"} <= set(dir(pixelnb))


def test_every_error_is_exported_from_errors():
    import inspect

    from pixelnb import errors

    classes = {n for n, v in vars(errors).items() if inspect.isclass(v) and issubclass(v, Exception)}
    classes = {n for n in classes if not n.startswith("_")}  # private bases are not API
    assert set(errors.__all__) == classes - {"Exception"}
    assert {n for n in classes if n.endswith(("Error", "Full"))} - set(pixelnb.__all__) == set()


def test_the_package_is_typed():
    assert (ROOT / "pixelnb" / "py.typed").is_file()


def test_import_pixelnb_loads_no_numpy_until_a_pipeline_name_is_used():
    """`import pixelnb` (and the command line's start) stay cheap; the names still work."""
    import subprocess
    import sys

    code = (
        "import sys, pixelnb; before = 'numpy' in sys.modules; "
        "import pixelnb.pipeline; from pixelnb import pixelate; "
        "print(before, callable(pixelate), pixelate.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "pixelnb.pipeline"]


def test_the_command_line_starts_numpy_with_one_blas_thread_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = (
        "import os; from pixelnb.cli import _one_blas_thread; _one_blas_thread(); "
        "print(os.environ['OPENBLAS_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert run.stdout.strip() == "1"
    mine = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "OPENBLAS_NUM_THREADS": "4"},
    )
    assert mine.stdout.strip() == "4"
