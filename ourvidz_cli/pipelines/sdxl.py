"""SDXL through diffusers' StableDiffusionXLPipeline: one batched call for all of a job's images.

A diffusers folder, a repo id, or a single-file checkpoint (`.safetensors`, as community models ship)
loaded with `from_single_file` against a local diffusers config so it works offline.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL, StableDiffusionXLPipeline

from ourvidz_cli.pipelines.adapters import fuse_loras, low_memory, maybe_compile
from ourvidz_cli.pipelines.request import Generated, GenRequest, StepCallback, step_callback

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")


def load(source: str, device: str, dtype: torch.dtype, mode: str = "full", loras: list[dict[str, Any]] | None = None,
         compile_: bool = False, single_file_config: str | None = None,
         vae: str | None = None) -> StableDiffusionXLPipeline:
    # The stock SDXL VAE overflows in float16, so diffusers upcasts it to float32 for every decode;
    # an fp16-safe VAE (models.toml `vae =`) decodes in half precision instead.
    extra = {}
    if vae:
        try:
            extra["vae"] = AutoencoderKL.from_pretrained(vae, dtype=dtype)
        except OSError as exc:
            raise OSError(f"its VAE {vae} could not be loaded ({str(exc).strip().splitlines()[0]})") from exc
    if source.endswith(SINGLE_FILE_SUFFIXES):
        pipe = StableDiffusionXLPipeline.from_single_file(
            source, config=single_file_config, torch_dtype=dtype, **extra)
    else:
        pipe = StableDiffusionXLPipeline.from_pretrained(source, dtype=dtype, **extra)
    pipe.set_progress_bar_config(disable=True)
    fuse_loras(pipe, loras or [])
    pipe = pipe.to(device)
    if device.startswith("cuda"):
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.enable_slicing()  # six 1024px decodes one at a time: same pixels, a sixth of the peak
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
