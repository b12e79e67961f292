"""`ourvidz grid` (issue 28): cells are ordinary jobs (skip repeats answer a grid made again), the contact
sheet's cells are those jobs' pixels at the boxes its PNG chunk names, labels are drawn, a video grid tiles
its clips into an MP4, and bad axes are refused before anything is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, jobs

GRID = ["--smoke", "grid", "sdxl_image_fast", "a lighthouse", "--x", "seed=1-3", "--y", "guidance=3,6,9",
        "--steps", "1", "--count", "1", "--cell-size", "64", "--json"]


def test_a_3x3_grid_is_nine_jobs_and_a_labelled_sheet_of_their_pixels(cli: Callable[..., Result],
                                                                      home: Path) -> None:
    made = cli(*GRID, "--run")
    assert made.code == 0, made.err
    out = made.json()
    assert len(out["job_ids"]) == 9 and len(jobs(home)) == 9
    (sheet_path,) = out["sheets"]
    sheet = Image.open(sheet_path)
    chunk = json.loads(sheet.text["ourvidz-grid"])
    assert list(sheet.size) == chunk["layout"]["size"]
    pixels = np.asarray(sheet.convert("RGB"))
    for cell in chunk["cells"]:
        left, top, right, bottom = chunk["layout"]["cells"][f"{cell['x']},{cell['y']}"]
        job = next(j for j in jobs(home) if j["id"] == cell["job_id"])
        config = json.loads(job["config"])
        assert config["seed"] == cell["x"] + 1 and config["guidance"] == [3.0, 6.0, 9.0][cell["y"]]
        own = np.asarray(Image.open(home / "outputs" / "sdxl_image_fast" / f"{job['id']}_0.png").convert("RGB"))
        assert np.array_equal(pixels[top:bottom, left:right], own)
    for box in chunk["layout"]["x_labels"] + chunk["layout"]["y_labels"] + [chunk["layout"]["title"]]:
        left, top, right, bottom = box
        assert (pixels[top:bottom, left:right] < 128).any(), box  # something is written there
    again = cli(*GRID, "--run")  # the same grid: every cell answered from its first job, nothing rendered
    assert again.code == 0, again.err
    assert all(j["reused_from"] for j in jobs(home)[9:]) and len(jobs(home)) == 18
    shown = cli("grid", "show", str(again.json()["grid_id"]), "--json").json()
    assert all(c["status"] == "completed" for c in shown["definition"]["cells"])
    from ourvidz_cli.ledger import Ledger
    from ourvidz_cli.library.gallery import build

    page = Path(build(Ledger(home / "ledger.db"), home, home / "gallery")["path"]).read_text()
    assert 'data-bucket="grids"' in page and "grids/1_0.png" in page
    listed = cli("assets", "list", "--grids", "--json").json()
    assert [r["path"] for r in listed] == [str(home / "outputs" / "grids" / f"{g}_0.png") for g in (2, 1)]


def test_a_strength_axis_starts_from_the_given_picture(cli: Callable[..., Result], home: Path,
                                                       tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), (200, 30, 30)).save(tmp_path / "red.png")
    made = cli("--smoke", "grid", "sdxl_image_fast", "a boat", "--x", "strength=0.5,1.0", "--image",
               str(tmp_path / "red.png"), "--steps", "2", "--count", "1", "--cell-size", "64", "--run", "--json")
    assert made.code == 0, made.err
    strengths = sorted(json.loads(j["config"])["inputs"]["strength"] for j in jobs(home))
    assert strengths == [0.5, 1.0]


def test_a_queued_grid_renders_once_its_cells_are_done(cli: Callable[..., Result], home: Path) -> None:
    made = cli("--smoke", "grid", "video_fast", "waves", "--x", "seed=1,2", "--y", "sr=waves,rocks", "--steps", "1",
               "--cell-size", "48", "--json")
    assert made.code == 0, made.err
    grid_id = made.json()["grid_id"]
    early = cli("grid", "render", str(grid_id))
    assert early.code == 1 and "4 of 4 cells are not done" in early.err
    assert cli("--smoke", "queue", "run").code == 0
    rendered = cli("grid", "render", str(grid_id), "--json", "--cell-size", "48")
    assert rendered.code == 0, rendered.err
    png, mp4 = rendered.json()["sheets"]
    from ourvidz_cli.library.media import video_frames

    size = Image.open(png).size
    assert video_frames(Path(mp4)) == 17
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(mp4)
    assert tuple(reader.__next__()["size"]) == size  # the clips tiled on the labelled sheet
    prompts = {j["prompt"] for j in jobs(home)}
    assert prompts == {"waves", "rocks"}


@pytest.mark.parametrize(("args", "message"), [
    (["--x", "colour=1,2"], "unknown axis 'colour'"),
    (["--x", "sampler=Euler,Bogus"], "cell sampler=Bogus: --sampler: unknown sampler 'Bogus'"),
    (["--x", "shift=1,2"], "cell shift=1: --shift does not apply to sdxl_image_fast"),
    (["--x", "seed=1-40", "--y", "steps=1-30"], "1,200 cells is more than 1,000"),
])
def test_bad_axes_exit_2_and_write_nothing(cli: Callable[..., Result], home: Path, args: list[str],
                                           message: str) -> None:
    res = cli("--smoke", "grid", "sdxl_image_fast", "a lighthouse", *args)
    assert res.code == 2 and message in res.err, res.err
    assert jobs(home) == []
