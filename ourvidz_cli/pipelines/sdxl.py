"""SDXL through diffusers' StableDiffusionXLPipeline: one batched call for all of a job's images.

A diffusers folder, a repo id, or a single-file checkpoint (`.safetensors`, as community models ship)
loaded with `from_single_file` against a local diffusers config so it works offline.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import StableDiffusionXLPipeline

from ourvidz_cli.pipelines.adapters import fuse_loras, low_memory, maybe_compile
from ourvidz_cli.pipelines.request import Generated, GenRequest, StepCallback, step_callback

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")


def load(source: str, device: str, dtype: torch.dtype, mode: str = "full", loras: list[dict[str, Any]] | None = None,
         compile_: bool = False, single_file_config: str | None = None) -> StableDiffusionXLPipeline:
    if source.endswith(SINGLE_FILE_SUFFIXES):
        pipe = StableDiffusionXLPipeline.from_single_file(
            source, config=single_file_config, torch_dtype=dtype)
    else:
        pipe = StableDiffusionXLPipeline.from_pretrained(source, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    fuse_loras(pipe, loras or [])
    pipe = pipe.to(device)
    if device.startswith("cuda"):
        pipe.unet.to(memory_format=torch.channels_last)
    maybe_compile(pipe, "unet", compile_)
    return pipe


def generate(pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated:
    generator = torch.Generator("cpu").manual_seed(req.seed)
    with torch.inference_mode():
        out = pipe(
            prompt=req.prompt,
            negative_prompt=req.negative or None,
            num_inference_steps=req.steps,
            width=req.width,
            height=req.height,
            guidance_scale=req.guidance,
            num_images_per_prompt=req.count,
            generator=generator,
            output_type="pil",
            callback_on_step_end=step_callback(on_step, req.steps),
        )
    return Generated(sampler=type(pipe.scheduler).__name__, images=list(out.images))


__all__ = ["load", "generate", "low_memory"]
