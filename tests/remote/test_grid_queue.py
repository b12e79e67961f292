"""A grid whose cells go to the shared queue (issue 28): each cell an item, and `grid render --queue`
composes the sheet from the outputs the workers uploaded to Storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import Result
from tests.support.supabase_server import FakeSupabase


def test_a_shared_queue_grid_renders_from_the_workers_uploads(cli: Callable[..., Result], queue_url: str,
                                                               supa: FakeSupabase, home: Path) -> None:
    assert cli("--smoke", "sync", "setup", "--json").code == 0
    made = cli("--smoke", "grid", "sdxl_image_fast", "a pier", "--x", "seed=1,2", "--steps", "1", "--count", "1",
               "--queue", queue_url, "--json")
    assert made.code == 0, made.err
    grid_id = str(made.json()["grid_id"])
    early = cli("grid", "render", grid_id, "--queue", queue_url)
    assert early.code == 1 and "2 of 2 cells are not done" in early.err
    assert cli("grid", "render", grid_id).code == 1  # without the queue there is nothing to read them from
    worker = cli("--smoke", "worker", "--queue", queue_url, "--drain", "--poll", "0.1")
    assert worker.code == 0, worker.err
    done = cli("grid", "render", grid_id, "--queue", queue_url, "--cell-size", "64", "--json")
    assert done.code == 0, done.err
    sheet = Image.open(done.json()["sheets"][0])
    chunk = json.loads(sheet.text["ourvidz-grid"])
    pixels = np.asarray(sheet.convert("RGB"))
    for cell in chunk["cells"]:
        left, top, right, bottom = chunk["layout"]["cells"][f"{cell['x']},0"]
        data, _ = next(v for (bucket, name), v in supa.state.objects.items()
                       if bucket == "sdxl_image_fast" and cell["remote_id"] in name)
        uploaded = home / "uploaded.png"
        uploaded.write_bytes(data)
        assert np.array_equal(pixels[top:bottom, left:right], np.asarray(Image.open(uploaded).convert("RGB")))
