"""A checkpoint per job (issue 27): `--model NAME` picks another catalog model of the job type's family;
the scheduler groups by it and `queue plan` predicts the loads a run makes under a one-model budget."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ourvidz_cli.catalog.load import smoke_overlay_path
from tests.conftest import Result, spawn


@pytest.fixture
def two_sdxl(smoke_root: Path, tmp_path: Path) -> Path:
    """The smoke catalog plus `other`: the tiny SDXL with its UNet weights changed (a second checkpoint)."""
    import torch
    from safetensors.torch import load_file, save_file

    other = tmp_path / "other-sdxl"
    shutil.copytree(smoke_root / "models" / "sdxl", other)
    weights = other / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    torch.manual_seed(1)
    save_file({k: t + 0.05 * torch.randn_like(t) if t.is_floating_point() else t for k, t in tensors.items()},
              weights, metadata={"format": "pt"})
    text = smoke_overlay_path().read_text().replace('path = "models/', f'path = "{smoke_root}/models/')
    catalog = tmp_path / "two.toml"
    catalog.write_text(text + f'\n[models.other]\nkind = "sdxl"\npath = "{other}"\ndtype = "float32"\n')
    return catalog


def test_model_switches_checkpoint_and_the_plan_predicts_the_loads(cli: Callable[..., Result], home: Path,
                                                                    two_sdxl: Path) -> None:
    base = ["--config", str(two_sdxl), "queue", "add", "sdxl_image_fast", "a pier", "--seed", "4", "--steps", "2",
            "--count", "1"]
    for model in ("other", None, "other", None):
        assert cli(*base, *(["--model", model] if model else [])).code == 0
    shown = cli("jobs", "show", "1", "--json").json()
    assert shown["config"]["model"]["name"] == "other"
    budget = ["--device", "cpu", "--vram-budget", "1MB"]  # under one tiny SDXL: a switch evicts the other
    plan = cli("--config", str(two_sdxl), "queue", "plan", "--json", *budget).json()
    proc = spawn(home, "--config", str(two_sdxl), "queue", "run", "--json", *budget)
    out, err = proc.communicate(timeout=300)
    ran = json.loads(out)
    assert proc.returncode == 0 and ran["completed"] == 4, err
    assert ran["model_loads"] == plan["model_loads"] == 2  # grouped by the model each job names
    pixels = {j["job_id"]: np.asarray(Image.open(j["outputs"][0])) for j in ran["jobs"]}
    assert np.array_equal(pixels[1], pixels[3]) and np.array_equal(pixels[2], pixels[4])
    assert not np.array_equal(pixels[1], pixels[2])
    listed = {m["name"] for m in cli("--config", str(two_sdxl), "models", "list", "--json").json()}
    assert {"sdxl", "other", "wan"} <= listed


@pytest.mark.parametrize(("model", "message"), [("nope", "--model nope: no such model in the catalog; "
                                                          "sdxl_image_fast takes: sdxl, other"),
                                                ("wan", "--model wan is a wan model; sdxl_image_fast runs sdxl")])
def test_a_bad_model_exits_2(cli: Callable[..., Result], home: Path, two_sdxl: Path, model: str,
                             message: str) -> None:
    res = cli("--config", str(two_sdxl), "generate", "sdxl_image_fast", "x", "--model", model)
    assert res.code == 2 and message in res.err, res.err
