"""Tiny random LoRAs for the smoke models, saved the way diffusers saves trained ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _lora(pipeline: Any, folder: Path, part: str, saved_as: str, out: Path, name: str, seed: int) -> Path:
    import torch
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    pipe = pipeline.from_pretrained(folder)
    getattr(pipe, part).add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                               target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    out.mkdir(parents=True, exist_ok=True)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(getattr(pipe, part)))
    pipeline.save_lora_weights(out, **{saved_as: layers}, weight_name=f"{name}.safetensors")
    return out / f"{name}.safetensors"


def sdxl_lora(smoke_root: Path, out: Path, seed: int) -> Path:
    from diffusers import StableDiffusionXLPipeline

    return _lora(StableDiffusionXLPipeline, smoke_root / "models" / "sdxl", "unet", "unet_lora_layers", out,
                 f"s{seed}", seed)


def wan_lora(smoke_root: Path, out: Path, seed: int) -> Path:
    from diffusers import WanPipeline

    return _lora(WanPipeline, smoke_root / "models" / "wan", "transformer", "transformer_lora_layers", out,
                 f"w{seed}", seed)
