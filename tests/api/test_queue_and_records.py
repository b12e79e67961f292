"""The Python API's queue, jobs, assets and enhance (issue 29), through public names only, and the command
line answering from the same objects: what `ourvidz ... --json` prints is what the API returns."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from ourvidz_cli import JobFailed, Phase, Studio, UsageError
from tests.conftest import Result, jobs


def test_queue_add_run_and_the_records_match_the_cli(cli: Callable[..., Result], home: Path) -> None:
    with Studio(home=home, smoke=True) as studio:
        pair = studio.queue.add("sdxl_image_fast", "a {red|blue} kite", combinations=True, steps=1, count=1)
        studio.queue.add("sdxl_image_fast", "a kite", seed=3, steps=1, count=1, priority=0)
        planned = studio.queue.plan()
        ran = studio.queue.run()
        assert (len(pair), planned["jobs"], planned["model_loads"]) == (2, 3, 1)
        assert ran.tally()["completed"] == 3 and ran.model_loads == 1 and ran.wall_s > 0
        assert [r.job_type for r in ran] == ["sdxl_image_fast"] * 3 and ran[0].job_id == 3  # priority first
        shown = studio.jobs.get(ran[0].job_id)
        listed = studio.jobs.list(status="completed")
        files = studio.assets.list(search="kite")
        log = studio.jobs.log(ran[0].job_id)
    assert shown["outputs"][0]["path"] == ran[0].outputs[0] and shown["config"]["seed"] == 3
    assert cli("jobs", "show", str(ran[0].job_id), "--json").json() == shown
    assert [j["id"] for j in cli("queue", "list", "--json").json()] == [j["id"] for j in listed]
    assert len(files) == 3 and "attempt 1" in log


def test_queue_cancel_retry_and_rerun(home: Path) -> None:
    with Studio(home=home, smoke=True) as studio:
        first = studio.queue.add("sdxl_image_fast", "a gull", seed=1, steps=1, count=1)[0]
        assert studio.queue.cancel(first) == "canceled"
        studio.queue.retry(first)
        again = studio.queue.rerun(first, seed=9)[0]
        run = studio.queue.run()
        assert {r.job_id: r.status for r in run} == {first: "completed", again: "completed"}
        assert studio.jobs.get(again)["rerun_of"] == first and studio.jobs.get(again)["seed"] == 9
        with pytest.raises(UsageError):
            studio.jobs.list(status="sleeping")


def test_a_reference_image_goes_through_the_api(home: Path, tmp_path: Path) -> None:
    """Studio.generate documented ref_image, but handed it to the input checker under a name it did not take
    (a TypeError, whatever the picture)."""
    picture = tmp_path / "ref.png"
    Image.new("RGB", (32, 32), "red").save(picture)
    with Studio(home=home, smoke=True) as studio:
        job_id = studio.queue.add("video_fast", "a red ball", ref_image=[str(picture)])[0]
        config = studio.jobs.get(job_id)["config"]
    assert len(config["inputs"]["refs"]) == 1


def test_enhance_answers_then_answers_from_the_cache(cli: Callable[..., Result], home: Path) -> None:
    phases: list[Phase] = []
    with Studio(home=home, smoke=True) as studio:
        first = studio.enhance("a lighthouse at dawn", "wan-video", on_progress=phases.append)
        loads = studio.engine.loads
        second = studio.enhance("a lighthouse at dawn", "wan-video")
    assert first.output and not first.cached and loads == 1 and any("qwen" in p.text for p in phases)
    assert second.cached and second.output == first.output
    shown = cli("--smoke", "enhance", "a lighthouse at dawn", "--for", "wan-video", "--json").json()
    assert shown["output"] == first.output and shown["cached"] and shown["model_loads"] == 0
    with pytest.raises(UsageError):
        Studio(home=home, smoke=True).enhance("x", "no-such-target")


def test_a_failed_rerun_is_typed_and_exact_refuses_compile(home: Path, tmp_path: Path, smoke_root: Path) -> None:
    with Studio(home=home, smoke=True, compile=True) as studio, pytest.raises(UsageError, match="--exact"):
        studio.rerun(1, exact=True)
    own = tmp_path / "sdxl"  # a copy: the smoke models are shared by every test
    shutil.copytree(smoke_root / "models" / "sdxl", own)
    catalog = tmp_path / "own.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\nrepo = false\npath = "{own}"\ndtype = "float32"\n'
                       'vae = false\n')
    with Studio(home=home, config=catalog) as studio:
        done = studio.generate("sdxl_image_fast", "a dune", seed=2, steps=1, count=1, size="64x64", use_worker=False)
    shutil.rmtree(own / "unet")
    with Studio(home=home, config=catalog) as studio, pytest.raises(JobFailed) as failed:
        studio.rerun(done.job_id, use_worker=False)
    assert failed.value.result.status == "failed" and failed.value.result.error
    assert {j["id"]: j["rerun_of"] for j in jobs(home)}[failed.value.result.job_id] == done.job_id
