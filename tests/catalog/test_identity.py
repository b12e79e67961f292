"""What a fingerprint knows of local weights: a LoRA folder or a model folder whose weights were replaced
(the index file untouched, the size the same) is another identity (issue 25, finding 17)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from ourvidz_cli.catalog.fingerprint import model_identity
from ourvidz_cli.catalog.job import Lora, ModelRef


def _replace(path: Path, scale: float) -> None:
    before = path.stat()
    save_file({"lora.down.weight": torch.full((4, 8), scale), "lora.up.weight": torch.full((8, 4), scale)}, path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # even with its old modification time


def test_replaced_weights_change_a_local_loras_and_models_identity(tmp_path: Path) -> None:
    lora_dir = tmp_path / "detail-lora"
    lora_dir.mkdir()
    weights = lora_dir / "pytorch_lora_weights.safetensors"
    save_file({"lora.down.weight": torch.zeros(4, 8), "lora.up.weight": torch.zeros(8, 4)}, weights)
    model_dir = tmp_path / "model"
    (model_dir / "unet").mkdir(parents=True)
    (model_dir / "model_index.json").write_text("{}")
    unet = model_dir / "unet" / "diffusion_pytorch_model.safetensors"
    save_file({"w": torch.zeros(4)}, unet)
    ref = ModelRef("m", "sdxl", str(model_dir), True, "float32", loras=(Lora(str(lora_dir), True, 0.8),))
    first = model_identity(ref)
    assert first["loras"][0]["revision"] != "unknown"
    _replace(weights, 1.0)
    assert model_identity(ref)["loras"] != first["loras"]
    save_file({"v": torch.zeros(4)}, unet)  # another tensor name, same size: the index file untouched
    assert model_identity(ref)["revision"] != first["revision"]
