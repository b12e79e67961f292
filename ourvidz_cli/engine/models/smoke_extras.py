"""The smoke profile's second SDXL checkpoint (`other`: the tiny SDXL with its UNet weights moved) and an
SDXL LoRA (`detail`), so `--model other` and `--lora detail:0.7` run on a fresh machine with no download."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

OTHER = Path("models") / "sdxl_other"
DETAIL = Path("loras") / "detail.safetensors"


def built(root: Path) -> bool:
    return (root / OTHER / ".complete").is_file() and (root / DETAIL).is_file()


def _other(root: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    target = root / OTHER
    staging = target.with_name(".building-sdxl_other")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root / "models" / "sdxl", staging)
    weights = staging / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    generator = torch.Generator().manual_seed(1)
    moved = {k: t + 0.05 * torch.randn(t.shape, generator=generator) if t.is_floating_point() else t
             for k, t in tensors.items()}
    save_file(moved, weights, metadata={"format": "pt"})
    (staging / ".complete").write_text("built by ourvidz models init-smoke\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


def _detail(root: Path) -> None:
    import torch
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(2)
    pipe = StableDiffusionXLPipeline.from_pretrained(root / "models" / "sdxl")
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    target = root / DETAIL
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".building-{target.name}")
    StableDiffusionXLPipeline.save_lora_weights(
        staging.parent, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet)),
        weight_name=staging.name)
    os.replace(staging, target)


def build(root: Path, force: bool = False) -> None:
    if force or not (root / OTHER / ".complete").is_file():
        _other(root)
    if force or not (root / DETAIL).is_file():
        _detail(root)
