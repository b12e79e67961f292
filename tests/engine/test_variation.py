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
