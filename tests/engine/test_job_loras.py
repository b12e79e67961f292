"""LoRAs per job (issue 27): named adapters kept with the loaded model (each loaded once, switched per job,
off for a job without any), `<lora:x:w>` in a prompt the same as `--lora x:w`, recorded with their sha256,
and refused clearly when they do not fit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, jobs, spawn
from tests.support.loras import sdxl_lora, wan_lora

BASE = ["sdxl_image_fast", "a lighthouse", "--seed", "6", "--steps", "2", "--count", "1"]


@pytest.fixture
def lora_home(home: Path, smoke_root: Path) -> Path:
    for seed in (1, 2, 3):
        sdxl_lora(smoke_root, home / "loras", seed)
    return home


def _sdxl_pipe(home: Path) -> Any:
    """The pipeline this home's jobs ran on (other tests in this process may hold other SDXL pipelines)."""
    from ourvidz_cli.catalog.job import ModelRef
    from ourvidz_cli.engine.models.manager import _ENGINES

    (engine,) = _ENGINES.values()
    model = ModelRef.from_dict(json.loads(jobs(home)[0]["config"])["model"])
    return engine.residency.entries[engine.key(model)][1].loaded


def _fresh(home: Path, *args: str) -> np.ndarray:
    proc = spawn(home, "--smoke", "generate", *BASE, "--no-worker", "--force", *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return np.asarray(Image.open(out.split()[0]))


def test_thirty_jobs_switch_adapters_without_reloading_or_growing(cli: Callable[..., Result],
                                                                  lora_home: Path) -> None:
    choices = [["--lora", "s1:0.8"], ["--lora", "s2"], [], ["--lora", "s3:-0.5"]]
    for i in range(30):
        assert cli("--smoke", "queue", "add", *BASE, *choices[i % 4]).code == 0
    sizes = []
    ran = cli("--smoke", "queue", "run", "--max-jobs", "4", "--order", "fifo", "--json")
    assert ran.code == 0 and ran.json()["completed"] == 4, ran.err
    pipe = _sdxl_pipe(lora_home)
    sizes.append(sum(p.numel() for p in pipe.unet.parameters()))
    ran = cli("--smoke", "queue", "run", "--order", "fifo", "--json")
    assert ran.code == 0 and ran.json()["completed"] == 26, ran.err
    sizes.append(sum(p.numel() for p in pipe.unet.parameters()))
    assert sizes[0] == sizes[1] and len(pipe.get_list_adapters()["unet"]) == 3  # flat after the first round
    logs = "".join((lora_home / "logs" / f"{j['id']}.log").read_text() for j in jobs(lora_home))
    assert logs.count("loaded as adapter") == 3  # each LoRA loaded once, on its first job
    outputs = {j["id"]: np.asarray(Image.open(lora_home / "outputs" / "sdxl_image_fast" / f"{j['id']}_0.png"))
               for j in jobs(lora_home)}
    for k, args in enumerate(choices):  # every job equals a fresh process's for the same job
        want = _fresh(lora_home, *args)
        assert all(np.array_equal(outputs[i], want) for i in range(k + 1, 31, 4)), args
    assert not np.array_equal(outputs[1], outputs[3])  # the LoRA changed the pixels; none means none


def test_a_prompt_tag_is_the_flag_and_is_recorded(cli: Callable[..., Result], lora_home: Path) -> None:
    tagged = cli("--smoke", "generate", "sdxl_image_fast", "a lighthouse <lora:s1:0.5>", *BASE[2:], "--json")
    flagged = cli("--smoke", "generate", *BASE, "--lora", "s1:0.5", "--json", "--force")
    assert tagged.code == 0 and flagged.code == 0, tagged.err + flagged.err
    same = [np.asarray(Image.open(r.json()["outputs"][0])) for r in (tagged, flagged)]
    assert np.array_equal(*same)  # the tag is not in the encoded text
    (adapter,) = cli("jobs", "show", str(tagged.json()["job_id"]), "--json").json()["config"]["adapters"]
    from ourvidz_cli.catalog.loras import sha256_of

    assert adapter["name"] == "s1" and adapter["weight"] == 0.5
    assert adapter["sha256"] == sha256_of(lora_home / "loras" / "s1.safetensors")
    listed = cli("loras", "--json").json()["loras"]
    assert {(r["name"], r["family"]) for r in listed} == {("s1", "sdxl"), ("s2", "sdxl"), ("s3", "sdxl")}


def test_a_wan_lora_runs_on_wan(cli: Callable[..., Result], home: Path, smoke_root: Path) -> None:
    path = wan_lora(smoke_root, home / "loras", 4)
    args = ["image_fast", "a fox", "--seed", "1", "--steps", "2", "--json"]
    plain = cli("--smoke", "generate", *args)
    styled = cli("--smoke", "generate", *args, "--lora", str(path), "--force")
    assert plain.code == 0 and styled.code == 0, styled.err
    assert not np.array_equal(*[np.asarray(Image.open(r.json()["outputs"][0])) for r in (plain, styled)])


def test_bad_loras_exit_2(cli: Callable[..., Result], lora_home: Path, smoke_root: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.safetensors").write_text("not a tensor file")
    (tmp_path / "x.ckpt").write_text("pickle")
    wan = wan_lora(smoke_root, tmp_path, 5)
    cases = {
        ("sdxl_image_fast", "nope"): "no LoRA named 'nope'",
        ("sdxl_image_fast", "s1:6"): "weight 6 is outside [-5, 5]",
        ("sdxl_image_fast", str(tmp_path / "notes.safetensors")): "is not a safetensors file",
        ("sdxl_image_fast", str(tmp_path / "x.ckpt")): "no LoRA named",
        ("sdxl_image_fast", str(wan)): "is a LoRA for wan models, not for sdxl",
        ("video_fast", "s2"): "is a LoRA for sdxl models, not for wan",
    }
    for (job_type, spec), message in cases.items():
        res = cli("--smoke", "generate", job_type, "x", "--lora", spec)
        assert res.code == 2 and message in res.err and len(res.err.strip().splitlines()) == 1, (spec, res.err)
    assert jobs(lora_home) == []


def test_a_job_lora_gives_diffusers_own_adapter_pixels(cli: Callable[..., Result], lora_home: Path,
                                                       smoke_root: Path) -> None:
    """The wiring test: diffusers' own pipeline with the LoRA as a named adapter at the same weight."""
    import torch
    from diffusers import StableDiffusionXLPipeline

    ours = cli("--smoke", "generate", *BASE, "--lora", "s2:0.8", "--guidance", "5", "--negative", "",
               "--no-worker", "--json")
    assert ours.code == 0, ours.err
    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(str(lora_home / "loras"), weight_name="s2.safetensors", adapter_name="s2")
    pipe.set_adapters(["s2"], adapter_weights=[0.8])
    want = pipe(prompt="a lighthouse", num_inference_steps=2, guidance_scale=5.0, num_images_per_prompt=1,
                generator=torch.Generator("cpu").manual_seed(6)).images[0]
    assert np.array_equal(np.asarray(Image.open(ours.json()["outputs"][0])), np.asarray(want))
