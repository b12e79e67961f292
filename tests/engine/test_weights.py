"""What a model costs in memory, read from the files its loader reads, and which files those are: a
snapshot laid out like the real SDXL repo, with header-only safetensors files of the published sizes."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.models.model_store import estimate_bytes
from ourvidz_cli.engine.models.weights import pull_patterns
from tests.conftest import Result

# Parameter counts of stabilityai/stable-diffusion-xl-base-1.0's components (their fp32 files are these
# times 4 bytes: unet 10.3 GB, text_encoder_2 2.78 GB, text_encoder 492 MB, vae 335 MB).
UNET, CLIP_L, CLIP_G, VAE = 2_567_463_684, 123_060_480, 694_659_840, 83_653_863
INDEX = {"_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.19.0.dev0",
         "force_zeros_for_empty_prompt": True, "feature_extractor": [None, None], "image_encoder": [None, None],
         "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
         "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
         "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
         "unet": ["diffusers", "UNet2DConditionModel"],
         "vae": ["diffusers", "AutoencoderKL"]}


def header_only(path: Path, elements: int, dtype: str) -> None:
    """A safetensors header declaring one tensor of `elements` values (the data itself left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = {"F32": 4, "F16": 2}[dtype]
    header = json.dumps({"w": {"dtype": dtype, "shape": [elements], "data_offsets": [0, elements * size]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def sdxl_snapshot(root: Path) -> Path:
    (root / "model_index.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps(INDEX))
    total = UNET + CLIP_L + CLIP_G + VAE
    header_only(root / "sd_xl_base_1.0.safetensors", total, "F16")  # the single-file checkpoint, 6.94 GB
    header_only(root / "sd_xl_base_1.0_0.9vae.safetensors", total, "F16")
    header_only(root / "sd_xl_offset_example-lora_1.0.safetensors", 24_800_000, "F16")
    for folder, name, count in (("unet", "diffusion_pytorch_model", UNET), ("vae", "diffusion_pytorch_model", VAE),
                                ("vae_1_0", "diffusion_pytorch_model", VAE), ("text_encoder", "model", CLIP_L),
                                ("text_encoder_2", "model", CLIP_G)):
        header_only(root / folder / f"{name}.safetensors", count, "F32")
        header_only(root / folder / f"{name}.fp16.safetensors", count, "F16")
    return root


def test_an_sdxl_snapshot_counts_only_what_the_pipeline_loads(tmp_path: Path) -> None:
    root = sdxl_snapshot(tmp_path / "sdxl")
    ref = ModelRef("sdxl", "sdxl", str(root), True, "float16")
    loaded = (UNET + CLIP_L + CLIP_G + VAE) * 2
    assert estimate_bytes(ref) == loaded  # 6.94 GB in fp16, not the 28 GB every file adds up to
    assert estimate_bytes(ref, "float32") == loaded * 2
    assert estimate_bytes(ref, skip=("text_encoder", "text_encoder_2")) == (UNET + VAE) * 2
    # The catalog's fp16-safe VAE replaces the snapshot's: its repo's single-file copies are not read.
    fixed = tmp_path / "sdxl-vae-fp16-fix"
    header_only(fixed / "diffusion_pytorch_model.safetensors", VAE, "F32")
    header_only(fixed / "sdxl_vae.safetensors", VAE, "F32")
    header_only(fixed / "sdxl.vae.safetensors", VAE, "F32")
    (fixed / "config.json").write_text("{}")
    with_vae = ModelRef("sdxl", "sdxl", str(root), True, "float16", vae=str(fixed))
    assert estimate_bytes(with_vae) == loaded


def test_pull_fetches_only_the_pipelines_components() -> None:
    patterns = pull_patterns(INDEX)
    assert "vae/*.safetensors" in patterns and "unet/*.safetensors" in patterns
    assert not [p for p in patterns if p.startswith(("vae_1_0", "feature_extractor", "image_encoder"))]


def test_a_ckpt_single_file_checks_as_readable(cli: Callable[..., Result], smoke_root: Path, tmp_path: Path) -> None:
    import torch

    ckpt = tmp_path / "community.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, ckpt)
    catalog = tmp_path / "c.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\npath = "{ckpt}"\nconfig = "{smoke_root}/models/sdxl"\n'
                       'repo = false\nvae = false\n')
    good = cli("--config", str(catalog), "models", "check", "sdxl", "--json")
    assert good.code == 0 and good.json()["models"]["sdxl"] == [], good.out
    ckpt.write_bytes(b"not a checkpoint")
    bad = cli("--config", str(catalog), "models", "check", "sdxl", "--json")
    assert bad.code == 1 and "unreadable checkpoint" in bad.json()["models"]["sdxl"][0]
