"""Per-job samplers (issue 27): each name runs the scheduler diffusers' docs map it to (the same pixels as
the pipeline with that scheduler set by hand), built per job from the loaded pipeline's config (a job
after another sampler's equals a fresh process's), written as AUTOMATIC1111 writes it, refused clearly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ourvidz_cli.engine.families.samplers import SDXL, WAN
from tests.conftest import Result, jobs, spawn

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy, under the LMS sampler


def _sdxl(cli: Callable[..., Result], *args: str) -> np.ndarray:
    res = cli("--smoke", "generate", "sdxl_image_fast", "a lighthouse", "--seed", "3", "--steps", "4", "--count",
              "1", "--guidance", "5", "--negative", "", "--no-worker", "--json", *args)
    assert res.code == 0, res.err
    return np.asarray(Image.open(res.json()["outputs"][0]).convert("RGB"))


def _by_hand(pipe: Any, name: str, table: dict[str, Any], **options: Any) -> Any:
    import diffusers

    cls, opts = table[name]
    return getattr(diffusers, cls).from_config(pipe.scheduler.config, **opts, **options)


def test_every_sdxl_sampler_gives_diffusers_own_pixels(cli: Callable[..., Result], smoke_root: Path) -> None:
    import torch
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    default = pipe.scheduler
    outputs = {}
    for name in SDXL:
        pipe.scheduler = _by_hand(_Fixed(default), name, SDXL)
        want = pipe(prompt="a lighthouse", num_inference_steps=4, guidance_scale=5.0, num_images_per_prompt=1,
                    generator=torch.Generator("cpu").manual_seed(3), output_type="pil").images[0]
        outputs[name] = _sdxl(cli, "--sampler", name)
        assert np.array_equal(outputs[name], np.asarray(want.convert("RGB"))), name
    assert not np.array_equal(outputs["Euler a"], outputs["DPM++ 2M Karras"])  # the choice reached the pipeline


class _Fixed:
    """The loaded scheduler's config, as the engine builds each job's from (never a previous job's)."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler


def test_a_sampler_carries_nothing_to_the_next_job(cli: Callable[..., Result], home: Path) -> None:
    _sdxl(cli, "--sampler", "DPM++ 2M SDE Karras")
    after = _sdxl(cli, "--sampler", "Euler a")
    plain = _sdxl(cli)  # no --sampler: the model's own scheduler, as before samplers could be chosen
    fresh = spawn(home, "--smoke", "generate", "sdxl_image_fast", "a lighthouse", "--seed", "3", "--steps", "4",
                  "--count", "1", "--guidance", "5", "--negative", "", "--sampler", "Euler a", "--no-worker",
                  "--force")
    out, err = fresh.communicate(timeout=300)
    assert fresh.returncode == 0, err
    assert np.array_equal(after, np.asarray(Image.open(out.split()[0]).convert("RGB")))
    res = cli("--smoke", "generate", "sdxl_image_fast", "a lighthouse", "--seed", "3", "--steps", "4", "--count",
              "1", "--guidance", "5", "--negative", "", "--sampler", "Euler", "--no-worker", "--json", "--force")
    assert np.array_equal(plain, np.asarray(Image.open(res.json()["outputs"][0]).convert("RGB")))  # Euler is SDXL's


@pytest.mark.parametrize("name", list(WAN))
def test_wan_solvers_and_shift_give_diffusers_own_pixels(cli: Callable[..., Result], smoke_root: Path,
                                                         name: str) -> None:
    import torch
    from diffusers import WanPipeline

    pipe = WanPipeline.from_pretrained(smoke_root / "models" / "wan", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    option = "shift" if name == "euler" else "flow_shift"
    pipe.scheduler = _by_hand(pipe, name, WAN, **{option: 7.0})
    want = pipe(prompt="a fox", negative_prompt=None, height=80, width=48, num_frames=1, num_inference_steps=3,
                guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(2), output_type="np").frames[0]
    res = cli("--smoke", "generate", "image_fast", "a fox", "--seed", "2", "--steps", "3", "--guidance", "5",
              "--negative", "", "--sampler", name, "--shift", "7", "--no-worker", "--json")
    assert res.code == 0, res.err
    ours = np.asarray(Image.open(res.json()["outputs"][0]).convert("RGB"))
    assert np.array_equal(ours, (np.clip(want[0], 0, 1) * 255).round().astype(np.uint8))


def test_the_png_names_the_sampler_as_automatic1111_does(cli: Callable[..., Result]) -> None:
    from ourvidz_cli.library.a1111 import parse_parameters

    res = cli("--smoke", "generate", "sdxl_image_fast", "a pier", "--seed", "1", "--steps", "2", "--count", "1",
              "--sampler", "dpm++ 2m karras", "--json")
    assert res.code == 0, res.err
    params = parse_parameters(Image.open(res.json()["outputs"][0]).text["parameters"])["params"]
    assert params["Sampler"] == "DPM++ 2M" and params["Schedule type"] == "Karras"
    shown = cli("jobs", "show", str(res.json()["job_id"]), "--json").json()
    assert shown["config"]["sampler"] == "DPM++ 2M Karras"
    listed = cli("samplers", "--json").json()["samplers"]
    assert {(r["family"], r["sampler"]) for r in listed} >= {("sdxl", "DPM++ 2M SDE Karras"), ("wan", "dpm++")}


BAD = {
    "unknown": (["sdxl_image_fast", "--sampler", "DPM++ 9M"], "unknown sampler 'DPM++ 9M'; sdxl takes: Euler, "),
    "other family": (["video_fast", "--sampler", "Heun"], "'Heun' is a sdxl sampler; wan takes: unipc, dpm++, euler"),
    "shift 0": (["video_fast", "--shift", "0"], "--shift 0 is outside (0, 100]"),
    "shift on sdxl": (["sdxl_image_fast", "--shift", "3"], "--shift does not apply to sdxl_image_fast"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_samplers_exit_2(cli: Callable[..., Result], home: Path, case: str) -> None:
    args, message = BAD[case]
    for verb in (["generate"], ["queue", "add"]):
        res = cli("--smoke", *verb, args[0], "x", *args[1:])
        assert res.code == 2 and message in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert jobs(home) == []
