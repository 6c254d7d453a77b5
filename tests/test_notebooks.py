"""The example notebooks run from top to bottom (the Luma one against the fake server)
and keep what a reader needs: widget views with static fallbacks, and saved widget state."""

import base64
import json
import zlib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import TEST_KEY, environment

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, tmp_path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "outputs must be stripped in git"
    )
    with environment(**env):
        NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
    return nb


def outputs(nb, mime: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})]


def widget_models(nb) -> dict:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return state.get("state", {})


def test_quickstart(tmp_path):
    nb = execute("quickstart", tmp_path, {"PIXELNB_CACHE": str(tmp_path / "cache")})
    views = outputs(nb, "application/vnd.jupyter.widget-view+json")
    assert len(views) >= 2
    cells = [c for c in nb.cells if c.cell_type == "code"]
    for cell in cells:  # every widget display is followed by its fallback output
        for i, out in enumerate(cell.outputs):
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                fallback = cell.outputs[i + 1]["data"]
                assert 'class="pixelnb-fallback"' in fallback["text/html"]
                assert "data:image/" in fallback["text/html"] and "image/png" in fallback
    players = [
        m for m in widget_models(nb).values() if m["state"].get("_anywidget_id", "").endswith("Player")
    ]
    assert players and players[0]["state"]["n_frames"] == 64
    buffers = {tuple(b["path"]): base64.b64decode(b["data"]) for b in players[0]["buffers"]}
    # The animation travels as deflated palette indices, not images: 64 frames of 64x36 bytes.
    indices = zlib.decompress(buffers[("indices",)])
    assert len(indices) == 64 * 36 * 64 and len(buffers[("palette",)]) == 16 * 3
    assert len(buffers[("indices",)]) < len(indices) / 4
    assert (tmp_path / "quickstart-out" / "bunny.gif").is_file()
    assert outputs(nb, "image/png"), "the matplotlib figures are there"
    size = len(json.dumps(nb))
    assert size < 3_000_000, f"the executed notebook is {size} bytes"


def test_generate_against_the_fake_server(fake, tmp_path):
    env = {
        "LUMAAI_BASE_URL": fake.base_url,
        "LUMAAI_API_KEY": TEST_KEY,
        "PIXELNB_CACHE": str(tmp_path / "cache"),
    }
    execute("generate", tmp_path, env)
    assert fake.creates == 1
    saved = (tmp_path / "generate.ipynb").read_text()
    assert TEST_KEY not in saved
    assert "Sprite(" in saved and "completed" in saved
    # Running it again finds the finished generation: nothing is paid twice.
    execute("generate", tmp_path, env)
    assert fake.creates == 1


@pytest.mark.parametrize("name", ["gallery"])
def test_gallery(name, tmp_path):
    nb = execute(name, tmp_path, {"PIXELNB_CACHE": str(tmp_path / "cache")})
    assert len(outputs(nb, "image/png")) >= 3
