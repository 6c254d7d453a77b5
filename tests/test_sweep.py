"""sweep(): prompts × video options generated once each through one JobManager (against the
fake), pixel variants fanned out to processes; the Gallery shows and filters them."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

import pixelnb
from pixelnb import OptionError
from pixelnb.jobs import sweep
from pixelnb.jobs.sweeps import expand_grid

PIXEL = {"size": 24, "fps": 4, "colors": [4, 8], "palette": ["auto", "pico-8"]}


class CountingPool(ProcessPoolExecutor):
    """A process pool that counts the tasks given to it."""

    submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_every_combination_is_made_and_no_generation_twice(make_manager, fake):
    m = make_manager()
    with CountingPool(2) as pool:
        result = sweep(
            ["a knight", "a dragon", "a knight"],  # a repeated prompt is the same generation
            video={"model": ["ray-2", "ray-flash-2"], "duration": "5s"},
            pixel_grid=PIXEL,
            executor=pool,
            manager=m,
            timeout=60,
        )
    assert fake.creates == 4 and result.generations == 4  # 2 prompts × 2 models
    assert len(result) == 3 * 2 * 4 and not result.failed
    one = result.where(prompt="a dragon", model="ray-flash-2", colors=4, palette="pico-8")
    assert len(one) == 1 and len(one[0].sprite.palette) <= 4
    assert one[0].params == {"prompt": "a dragon", "model": "ray-flash-2", "duration": "5s",
                             "size": 24, "fps": 4.0, "colors": 4, "palette": "pico-8"}  # fmt: skip
    rec = pixelnb.provenance(one[0].sprite.save(m.store.path.parent / "one.gif"))
    assert rec["generation"]["model"] == "ray-flash-2" and rec["options"]["palette"] == "pico-8"
    # each generation's job made its first variant; the other three per video ran in the pool
    assert pool.submitted == 3 * 2 * 3
    # a second sweep of the same requests pays nothing
    again = sweep("a knight", video={"model": "ray-2"}, pixel_grid={"size": 24, "fps": 4}, manager=m)
    assert fake.creates == 4 and len(again) == 1


def test_everything_is_checked_before_anything_is_paid(make_manager, fake):
    m = make_manager()
    with pytest.raises(OptionError, match="colors must be from 2 to 256"):
        sweep(["a cat"], pixel_grid={"colors": [8, 999]}, manager=m)
    with pytest.raises(pixelnb.RequestError):
        sweep(["a cat"], video={"model": ["ray-2", "ray-9"]}, manager=m)
    with pytest.raises(OptionError, match="larger than the"):
        sweep(["a cat"], video={"resolution": "540p"}, pixel_grid={"size": [64, 1000]}, manager=m)
    with pytest.raises(OptionError, match="prompts must be"):
        sweep([], manager=m)
    assert fake.creates == 0


def test_a_refused_prompt_is_reported_and_the_rest_is_made(make_manager, fake):
    m = make_manager()
    result = sweep(["a cat", "forbidden cat"], pixel_grid={"size": 24, "fps": 4, "colors": [4, 6]}, manager=m)
    assert len(result) == 4 and len(result.failed) == 2
    assert all(
        "forbidden" in i.params["prompt"] and "moderation" in (i.error or "").lower() for i in result.failed
    )


def test_grids_sweep_lists_only():
    assert expand_grid({"size": (32, 24), "colors": 8}) == [{"size": (32, 24), "colors": 8}]
    assert len(expand_grid({"size": [(32, 24), (16, 12)], "colors": [4, 8]})) == 4
    assert expand_grid({"concepts": ["dolly_zoom"]}) == [{"concepts": ["dolly_zoom"]}]
    assert len(expand_grid({"concepts": [["dolly_zoom"], []]})) == 2
    assert expand_grid(None) == [{}]
    with pytest.raises(OptionError, match="no values"):
        expand_grid({"colors": []})


def test_the_gallery_labels_and_filters_by_any_parameter(make_manager, fake):
    m = make_manager()
    result = sweep(["a cat", "a dog"], pixel_grid=PIXEL, manager=m, executor=None, workers=1)
    gallery = pixelnb.Gallery(result)
    assert set(gallery.filters) == {"prompt", "colors", "palette"}  # what varies
    assert len(gallery.grid.children) == 8
    gallery.show(colors=8)
    assert len(gallery.grid.children) == 4 and all(i.params["colors"] == 8 for i in gallery.visible)
    gallery.show(prompt="a dog", palette="pico-8")
    assert [(i.params["prompt"], i.params["colors"], i.params["palette"]) for i in gallery.visible] == [
        ("a dog", 8, "pico-8")
    ]
    label = gallery.grid.children[0].children[0].value
    assert "prompt=a dog" in label and "colors=8" in label and "palette=pico-8" in label
    gallery.show(colors="all", palette="all", prompt="all")
    assert len(gallery.grid.children) == 8
    assert "prompt=a cat" in gallery.to_html() and result._repr_html_().count("<figure") == 8
    with pytest.raises(KeyError, match="does not vary"):
        gallery.show(size=24)
