"""Every export says where it came from, and pixelnb.provenance reads it back."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixelnb
from conftest import TEST_KEY
from pixelnb import OptionError, Sprite
from pixelnb.jobs import generate
from pixelnb.palette import Palette
from pixelnb.stamp import KEY

FILES = ["a.gif", "a.png", "a.json", "a.apng", "a.webp", "a.html", "a.zip", "frames"]
PIXEL = {"size": 24, "colors": 6, "fps": 4}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def converted(tmp_path_factory, square_clip):
    out = tmp_path_factory.mktemp("prov")
    sprite = pixelnb.pixelate(square_clip, size=24, colors=6, fps=5, background="auto")
    for name in FILES:
        if name != "a.json":
            sprite.save(out / name)
    return out, sprite


@pytest.mark.parametrize("name", FILES)
def test_every_export_names_its_source_options_and_palette(converted, square_clip, name):
    out, sprite = converted
    rec = pixelnb.provenance(out / name)
    assert rec["pixelnb"] == pixelnb.__version__
    assert rec["source"] == {"name": square_clip.name, "sha256": sha256(square_clip)}
    assert pixelnb.PixelOptions.coerce(rec["options"]) == pixelnb.PixelOptions(
        size=24, colors=6, fps=5, background="auto"
    )
    assert rec["palette"] == list(sprite.palette.hex)
    assert rec["transparent"] == 0 and rec["frames"] == len(sprite) and rec["fps"] == 5
    assert "generation" not in rec


def test_the_record_sits_where_each_format_keeps_text(converted):
    out, _ = converted
    assert json.loads(Image.open(out / "a.gif").info["comment"])["pixelnb"]
    assert json.loads(Image.open(out / "a.png").text[KEY])["pixelnb"]
    assert json.loads(Image.open(out / "a.apng").text[KEY])["pixelnb"]
    assert b"pixelnb:provenance=" in Image.open(out / "a.webp").info["xmp"]
    assert json.loads(zipfile.ZipFile(out / "a.zip").comment)["pixelnb"]
    assert json.loads((out / "a.json").read_text())["meta"]["provenance"]["pixelnb"]
    assert '<meta name="pixelnb:provenance"' in (out / "a.html").read_text()


def test_edits_after_pixelate_are_recorded(tmp_path, square_clip):
    sprite = pixelnb.pixelate(square_clip, size=24, colors=6, fps=5, background="auto").crop(pad=1)
    rec = pixelnb.provenance(sprite.save(tmp_path / "c.gif"))
    assert rec["edits"]["crop"] == sprite.info["crop"]
    assert rec["size"] == [sprite.width, sprite.height]


def test_source_date_epoch_fixes_the_time_and_makes_files_identical(tmp_path, monkeypatch, bunny):
    sprite = pixelnb.pixelate(bunny, size=16, colors=4, fps=4, end=1.0)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = sprite.save(tmp_path / "a.gif")
    rec = pixelnb.provenance(a)
    assert rec["created"] == "2023-11-14T22:13:20Z"
    monkeypatch.setenv("PIXELNB_SOURCE_DATE_EPOCH", "0")  # pixelnb's own wins
    assert pixelnb.provenance(sprite.save(tmp_path / "b.gif"))["created"] == "1970-01-01T00:00:00Z"
    monkeypatch.delenv("PIXELNB_SOURCE_DATE_EPOCH")
    assert sha256(sprite.save(tmp_path / "c.gif")) == sha256(a)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "tomorrow")
    with pytest.raises(OptionError, match="SOURCE_DATE_EPOCH must be whole seconds"):
        sprite.save(tmp_path / "d.gif")


def test_without_an_epoch_only_the_time_differs(tmp_path, bunny, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    sprite = pixelnb.pixelate(bunny, size=16, colors=4, fps=4, end=1.0)
    a = pixelnb.provenance(sprite.save(tmp_path / "a.webp"))
    b = pixelnb.provenance(sprite.save(tmp_path / "b.webp"))
    a.pop("created"), b.pop("created")
    assert a == b


def test_a_sprite_made_by_hand_has_a_record_without_source(tmp_path):
    s = Sprite(np.zeros((2, 4, 4), np.uint8), Palette.preset("gameboy"), fps=10)
    rec = pixelnb.provenance(s.save(tmp_path / "h.png"))
    assert rec["source"] == {} and rec["options"] is None and rec["palette"] == list(s.palette.hex)


def test_files_without_a_record_say_so(tmp_path):
    Image.new("P", (4, 4)).save(tmp_path / "other.gif")
    (tmp_path / "page.html").write_text("<html></html>")
    (tmp_path / "sheet.json").write_text('{"meta": {}}')
    for name in ("other.gif", "page.html", "sheet.json"):
        with pytest.raises(OptionError, match="holds no pixelnb provenance"):
            pixelnb.provenance(tmp_path / name)
    with pytest.raises(OptionError, match="cannot read"):
        pixelnb.provenance(tmp_path / "missing.gif")


def test_a_generated_sprite_names_its_generation_and_matches_from_the_cache(
    tmp_path, make_manager, fake, monkeypatch
):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    m = make_manager()
    first = generate("a knight walking", manager=m, pixel=PIXEL).result(30)
    again = generate("a knight walking", manager=m, pixel=PIXEL).result(30)  # from the cache
    assert fake.creates == 1
    rec = pixelnb.provenance(first.save(tmp_path / "luma.gif"))
    gen = rec["generation"]
    (only,) = fake.generations
    assert gen["id"] == only and gen["model"] == "ray-2" and gen["prompt"] == "a knight walking"
    assert gen["echo"]["prompt"] == "a knight walking" and gen["request"]["prompt"] == "a knight walking"
    assert rec["source"]["sha256"] == gen["video_sha256"]
    for ext in ("gif", "png", "webp", "apng", "html", "zip"):
        assert sha256(first.save(tmp_path / f"luma.{ext}")) == sha256(again.save(tmp_path / f"cache.{ext}"))


def test_the_key_never_reaches_provenance_even_when_echoed(tmp_path, make_manager):
    from pixelnb.testing import FakeLuma

    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=0.1, echo_key=True) as careless:
        m = make_manager(base_url=careless.base_url)
        sprite = generate("a cat", manager=m, pixel=PIXEL).result(30)
        assert TEST_KEY in json.dumps(next(iter(careless.generations.values()))["request"])
    for ext in ("gif", "png", "webp", "html", "zip"):
        path = sprite.save(tmp_path / f"k.{ext}")
        assert TEST_KEY not in json.dumps(pixelnb.provenance(path))
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert TEST_KEY.encode() not in f.read_bytes(), f"the key is in {f.name}"
