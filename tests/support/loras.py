"""Tiny random LoRAs for the smoke models, saved the way diffusers saves trained ones."""

from __future__ import annotations

from pathlib import Path


def sdxl_lora(smoke_root: Path, out: Path, seed: int) -> Path:
    import torch
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl")
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    out.mkdir(parents=True, exist_ok=True)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    StableDiffusionXLPipeline.save_lora_weights(out, unet_lora_layers=layers, weight_name=f"s{seed}.safetensors")
    return out / f"s{seed}.safetensors"


def wan_lora(smoke_root: Path, out: Path, seed: int) -> Path:
    import torch
    from diffusers import WanPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    pipe = WanPipeline.from_pretrained(smoke_root / "models" / "wan")
    pipe.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                            target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    out.mkdir(parents=True, exist_ok=True)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.transformer))
    WanPipeline.save_lora_weights(out, transformer_lora_layers=layers, weight_name=f"w{seed}.safetensors")
    return out / f"w{seed}.safetensors"
