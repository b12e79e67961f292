"""Wan 2.1 text-to-video through diffusers' WanPipeline; a one-frame clip is an image.

In "text_encoder_on_cpu" mode (the model manager picks it when the budget is tight) the UMT5 encoder
never takes device memory: prompts are encoded in RAM and only the embeddings move to the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKLWan, WanPipeline

from ourvidz_cli.pipelines.adapters import fuse_loras, low_memory, maybe_compile
from ourvidz_cli.pipelines.request import Generated, GenRequest, StepCallback, step_callback


def load(source: str, device: str, dtype: torch.dtype, mode: str = "full", loras: list[dict[str, Any]] | None = None,
         compile_: bool = False, single_file_config: str | None = None, vae: str | None = None) -> WanPipeline:
    # Wan's VAE loses detail in half precision; diffusers' own examples keep it in float32.
    vae = AutoencoderKLWan.from_pretrained(source, subfolder="vae", dtype=torch.float32)
    pipe = WanPipeline.from_pretrained(source, vae=vae, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    fuse_loras(pipe, loras or [])
    if mode == "text_encoder_on_cpu":
        encoder = pipe.text_encoder
        pipe.text_encoder = None  # so .to(device) leaves it where it is
        pipe = pipe.to(device)
        pipe.text_encoder = encoder.to("cpu", torch.float32)
        pipe._ourvidz_encoder_on_cpu = True
    else:
        pipe = pipe.to(device)
    maybe_compile(pipe, "transformer", compile_)
    return pipe


def generate(pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated:
    generator = torch.Generator("cpu").manual_seed(req.seed)
    frames = req.frames or 1
    text: dict[str, Any] = {"prompt": req.prompt, "negative_prompt": req.negative or None}
    with torch.inference_mode():
        if getattr(pipe, "_ourvidz_encoder_on_cpu", False):
            device, dtype = pipe.transformer.device, pipe.transformer.dtype
            positive, negative = pipe.encode_prompt(
                prompt=req.prompt, negative_prompt=req.negative or None,
                do_classifier_free_guidance=req.guidance > 1.0, num_videos_per_prompt=1,
                max_sequence_length=512, device=torch.device("cpu"), dtype=torch.float32)
            text = {"prompt_embeds": positive.to(device, dtype),
                    "negative_prompt_embeds": negative.to(device, dtype) if negative is not None else None}
        out = pipe(
            **text,
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


__all__ = ["load", "generate", "low_memory"]
