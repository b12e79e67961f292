"""Wan 2.1 text-to-video through diffusers' WanPipeline; a one-frame clip is an image."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKLWan, WanPipeline

from ourvidz_cli.pipelines.request import Generated, GenRequest, StepCallback, step_callback


def load(source: str, device: str, dtype: torch.dtype) -> WanPipeline:
    # Wan's VAE loses detail in half precision; diffusers' own examples keep it in float32.
    vae = AutoencoderKLWan.from_pretrained(source, subfolder="vae", dtype=torch.float32)
    pipe = WanPipeline.from_pretrained(source, vae=vae, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def generate(pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated:
    generator = torch.Generator("cpu").manual_seed(req.seed)
    frames = req.frames or 1
    with torch.inference_mode():
        out = pipe(
            prompt=req.prompt,
            negative_prompt=req.negative or None,
            num_inference_steps=req.steps,
            width=req.width,
            height=req.height,
            num_frames=frames,
            guidance_scale=req.guidance,
            num_videos_per_prompt=req.count,
            generator=generator,
            output_type="np",
            callback_on_step_end=step_callback(on_step, req.steps),
        )
    clips = [(np.clip(np.asarray(v), 0.0, 1.0) * 255).round().astype(np.uint8) for v in out.frames]
    sampler = type(pipe.scheduler).__name__
    if frames == 1:
        from PIL import Image

        return Generated(sampler=sampler, images=[Image.fromarray(clip[0]) for clip in clips])
    return Generated(sampler=sampler, videos=clips)
