"""A checkpoint per job (issue 27): `--model NAME` picks another catalog model of the job type's family;
the scheduler groups by it and `queue plan` predicts the loads a run makes under a one-model budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, spawn


def test_model_switches_checkpoint_and_the_plan_predicts_the_loads(cli: Callable[..., Result], home: Path) -> None:
    """The smoke profile's `other` is the tiny SDXL with its UNet weights moved (engine.models.smoke_extras)."""
    base = ["--smoke", "queue", "add", "sdxl_image_fast", "a pier", "--seed", "4", "--steps", "2",
            "--count", "1"]
    for model in ("other", None, "other", None):
        assert cli(*base, *(["--model", model] if model else [])).code == 0
    shown = cli("jobs", "show", "1", "--json").json()
    assert shown["config"]["model"]["name"] == "other"
    budget = ["--device", "cpu", "--vram-budget", "1MB"]  # under one tiny SDXL: a switch evicts the other
    plan = cli("--smoke", "queue", "plan", "--json", *budget).json()
    proc = spawn(home, "--smoke", "queue", "run", "--json", *budget)
    out, err = proc.communicate(timeout=300)
    ran = json.loads(out)
    assert proc.returncode == 0 and ran["completed"] == 4, err
    assert ran["model_loads"] == plan["model_loads"] == 2  # grouped by the model each job names
    pixels = {j["job_id"]: np.asarray(Image.open(j["outputs"][0])) for j in ran["jobs"]}
    assert np.array_equal(pixels[1], pixels[3]) and np.array_equal(pixels[2], pixels[4])
    assert not np.array_equal(pixels[1], pixels[2])
    listed = {m["name"] for m in cli("--smoke", "models", "list", "--json").json()}
    assert {"sdxl", "other", "wan"} <= listed


@pytest.mark.parametrize(("model", "message"), [("nope", "--model nope: no such model in the catalog; "
                                                          "sdxl_image_fast takes: sdxl, other"),
                                                ("wan", "--model wan is a wan model; sdxl_image_fast runs sdxl")])
def test_a_bad_model_exits_2(cli: Callable[..., Result], home: Path, model: str, message: str) -> None:
    res = cli("--smoke", "generate", "sdxl_image_fast", "x", "--model", model)
    assert res.code == 2 and message in res.err, res.err
