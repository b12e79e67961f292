"""Variation seeds (issue 28): the starting noise leans from the seed's towards the variation seed's;
strength 0 is exactly the seed (an ancestral sampler's later noise included), 1 exactly the variation
seed's noise, and the PNG says so as AUTOMATIC1111 does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import Result


def _png(cli: Callable[..., Result], job_type: str, *args: str) -> np.ndarray:
    res = cli("--smoke", "generate", job_type, "a lighthouse", "--steps", "3", "--no-worker", "--json", "--force",
              *args)
    assert res.code == 0, res.err
    return np.stack([np.asarray(Image.open(p)) for p in res.json()["outputs"]])


def test_strength_0_is_the_seed_and_1_the_variation_seed(cli: Callable[..., Result]) -> None:
    for sampler in ([], ["--sampler", "Euler a"]):
        plain = _png(cli, "sdxl_image_fast", "--seed", "1", "--count", "2", *sampler)
        assert np.array_equal(_png(cli, "sdxl_image_fast", "--seed", "1", "--count", "2", "--variation-seed", "9",
                                   "--variation-strength", "0", *sampler), plain)
    other = _png(cli, "sdxl_image_fast", "--seed", "9", "--count", "2")
    assert np.array_equal(_png(cli, "sdxl_image_fast", "--seed", "1", "--count", "2", "--variation-seed", "9",
                               "--variation-strength", "1"), other)  # Euler adds no noise after the first
    half = _png(cli, "sdxl_image_fast", "--seed", "1", "--count", "2", "--variation-seed", "9",
                "--variation-strength", "0.5")
    assert not np.array_equal(half, other) and not np.array_equal(half, plain)
    wan = _png(cli, "image_fast", "--seed", "4")
    assert np.array_equal(_png(cli, "image_fast", "--seed", "4", "--variation-seed", "5", "--variation-strength",
                               "0"), wan)
    assert not np.array_equal(_png(cli, "image_fast", "--seed", "4", "--variation-seed", "5"), wan)


def test_the_png_and_the_job_record_the_variation(cli: Callable[..., Result], tmp_path: Path) -> None:
    from ourvidz_cli.library.a1111 import parse_parameters

    res = cli("--smoke", "generate", "sdxl_image_fast", "a pier", "--seed", "1", "--steps", "2", "--count", "1",
              "--variation-seed", "77", "--variation-strength", "0.25", "--json")
    assert res.code == 0, res.err
    params = parse_parameters(Image.open(res.json()["outputs"][0]).text["parameters"])["params"]
    assert params["Variation seed"] == "77" and params["Variation seed strength"] == "0.25"
    config = cli("jobs", "show", str(res.json()["job_id"]), "--json").json()["config"]
    assert config["variation_seed"] == 77 and config["variation_strength"] == 0.25
    Image.new("RGB", (48, 80)).save(tmp_path / "first.png")
    refused = cli("--smoke", "generate", "video_fast", "x", "--variation-seed", "3", "--first-frame",
                  str(tmp_path / "first.png"))
    assert refused.code == 2 and "does not apply with --image, --video or reference frames" in refused.err


def test_a_half_variation_gives_diffusers_own_pixels_for_the_blended_noise(cli: Callable[..., Result],
                                                                          smoke_root: Path) -> None:
    """The wiring against diffusers itself: the same pipeline handed, as its latents, the blend of the two
    seeds' noise (drawn here with diffusers' own randn_tensor), with the seed's generator after that draw."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils.torch_utils import randn_tensor

    from ourvidz_cli.engine.families.variation import slerp

    ours = cli("--smoke", "generate", "sdxl_image_fast", "a lighthouse", "--seed", "1", "--steps", "3", "--count",
               "2", "--guidance", "5", "--negative", "", "--variation-seed", "9", "--variation-strength", "0.5",
               "--no-worker", "--json")
    assert ours.code == 0, ours.err
    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    config = cli("jobs", "show", str(ours.json()["job_id"]), "--json").json()["config"]
    scale = pipe.vae_scale_factor
    shape = (2, pipe.unet.config.in_channels, config["height"] // scale, config["width"] // scale)
    generator = torch.Generator("cpu").manual_seed(1)
    own = randn_tensor(shape, generator=generator, dtype=torch.float32)
    other = randn_tensor(shape, generator=torch.Generator("cpu").manual_seed(9), dtype=torch.float32)
    want = pipe(prompt="a lighthouse", num_inference_steps=3, guidance_scale=5.0, num_images_per_prompt=2,
                width=config["width"], height=config["height"], latents=slerp(0.5, own, other), generator=generator,
                output_type="pil").images
    got = [np.asarray(Image.open(p).convert("RGB")) for p in ours.json()["outputs"]]
    assert all(np.array_equal(g, np.asarray(w.convert("RGB"))) for g, w in zip(got, want, strict=True))
