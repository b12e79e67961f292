"""SDXL through diffusers' StableDiffusionXLPipeline: one batched call for all of a job's images."""

from __future__ import annotations

from typing import Any

import torch
from diffusers import StableDiffusionXLPipeline

from ourvidz_cli.pipelines.request import Generated, GenRequest, StepCallback, step_callback


def load(source: str, device: str, dtype: torch.dtype) -> StableDiffusionXLPipeline:
    pipe = StableDiffusionXLPipeline.from_pretrained(source, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


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
