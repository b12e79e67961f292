"""Wan 2.1 through diffusers' WanPipeline (and, on the same components, video-to-video and VACE reference
frames: wan_modes); a one-frame clip is an image.

In "text_encoder_on_cpu" mode (the model manager picks it when the budget is tight) the UMT5 encoder
never takes device memory: prompts are encoded in RAM and only the embeddings move to the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.families import diffusers_common as common
from ourvidz_cli.engine.families import samplers as sampler_tables
from ourvidz_cli.engine.families.base import DIFFUSERS_ALLOW, DIFFUSERS_IGNORE, at_revision
from ourvidz_cli.engine.families.request import Generated, GenRequest, StepCallback, step_callback

ENCODER_ON_CPU = "text_encoder_on_cpu"


def _encoder_on_cpu(pipe: Any) -> bool:
    return bool(getattr(pipe, "_ourvidz_encoder_on_cpu", False))


def _unweighted(req: GenRequest) -> GenRequest:
    """Wan's UMT5 reads 512 tokens, so length needs no chunks; weights are not applied: scaling T5 token
    embeddings is no convention Wan was trained or tested with, and would change pixels in ways nobody can
    predict. The syntax is removed (the words stay) and the job log says so."""
    from dataclasses import replace

    from ourvidz_cli.prompts.weights import has_syntax, stripped

    if not req.weighting or not (has_syntax(req.prompt) or has_syntax(req.negative)):
        return req
    import warnings

    warnings.warn("prompt weighting ((word:1.2), [word], BREAK) is not applied on Wan: the syntax was removed "
                  "and the words kept", stacklevel=2)
    return replace(req, prompt=stripped(req.prompt), negative=stripped(req.negative))


def _variation(pipe: Any, req: GenRequest) -> tuple[Any, Any]:
    """The starting noise for a variation seed, shaped as WanPipeline's prepare_latents makes it (float32)."""
    import torch

    from ourvidz_cli.engine.families.variation import start_noise

    frames = (max(req.frames or 1, 1) - 1) // pipe.vae_scale_factor_temporal + 1
    scale = pipe.vae_scale_factor_spatial
    shape = (req.count, pipe.transformer.config.in_channels, frames, req.height // scale, req.width // scale)
    device = getattr(pipe, "_offload_device", None) or pipe.transformer.device
    return start_noise(shape, req.seed, req.variation_seed or 0, req.variation_strength, device, torch.float32)


class Wan:
    kind = "wan"
    marker = "model_index.json"
    pull_allow = DIFFUSERS_ALLOW
    pull_ignore = DIFFUSERS_IGNORE
    # Wan's VAE loses detail in half precision; diffusers' own examples keep it in float32.
    fp32_components = ("vae",)
    # Wan's UMT5-XXL encoder outweighs its 1.3B transformer: under a tight budget it stays in RAM.
    ram_component = "text_encoder"
    # Image types: --image as a one-frame clip; video types: --video, or reference frames through VACE.
    inputs = {"png": ("image",), "mp4": ("video", "first_frame", "last_frame", "refs")}
    samplers = sampler_tables.WAN  # --sampler unipc|dpm++|euler, --shift

    def load(self, model: ModelRef, device: str, dtype: Any, mode: str = "full", compile_: bool = False) -> Any:
        import torch
        from diffusers import AutoencoderKLWan, WanPipeline

        pinned = at_revision(model)
        vae = AutoencoderKLWan.from_pretrained(model.source, subfolder="vae", dtype=torch.float32, **pinned)
        pipe = WanPipeline.from_pretrained(model.source, vae=vae, dtype=dtype, **pinned)
        pipe.set_progress_bar_config(disable=True)
        common.fuse_loras(pipe, model.loras)
        if mode == ENCODER_ON_CPU:
            encoder = pipe.text_encoder
            pipe.text_encoder = None  # so .to(device) leaves it where it is
            pipe = pipe.to(device)
            pipe.text_encoder = encoder.to("cpu", torch.float32)
            pipe._ourvidz_encoder_on_cpu = True
        else:
            pipe = pipe.to(device)
        common.maybe_compile(pipe, "transformer", compile_)
        return pipe

    def _text_inputs(self, pipe: Any, req: GenRequest) -> dict[str, Any]:
        req = _unweighted(req)
        if not _encoder_on_cpu(pipe):
            return {"prompt": req.prompt, "negative_prompt": req.negative or None}
        import torch

        # Under offload hooks the transformer sits in RAM between steps: the device is the hooks' own.
        device, dtype = getattr(pipe, "_offload_device", None) or pipe.transformer.device, pipe.transformer.dtype
        positive, negative = pipe.encode_prompt(
            prompt=req.prompt, negative_prompt=req.negative or None,
            do_classifier_free_guidance=req.guidance > 1.0, num_videos_per_prompt=1,
            max_sequence_length=512, device=torch.device("cpu"), dtype=torch.float32)
        return {"prompt_embeds": positive.to(device, dtype),
                "negative_prompt_embeds": negative.to(device, dtype) if negative is not None else None}

    def generate(self, pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated:
        import numpy as np
        import torch

        from ourvidz_cli.engine.families.wan_modes import pick

        notes = common.apply_adapters(pipe, req.adapters)
        run, extra, steps_run = pick(pipe, req)
        generator = torch.Generator("cpu").manual_seed(req.seed)
        if req.variation_seed is not None:
            extra["latents"], generator = _variation(pipe, req)
        with torch.inference_mode():
            out = run(
                **self._text_inputs(pipe, req),
                num_inference_steps=req.steps,
                guidance_scale=req.guidance,
                num_videos_per_prompt=req.count,
                generator=generator,
                output_type="np",
                callback_on_step_end=step_callback(on_step, steps_run),
                **extra,
            )
        clips = [(np.clip(np.asarray(v), 0.0, 1.0) * 255).round().astype(np.uint8) for v in out.frames]
        sampler = req.sampler or type(run.scheduler).__name__
        if clips and clips[0].shape[0] == 1:
            from PIL import Image

            return Generated(sampler=sampler, images=[Image.fromarray(clip[0]) for clip in clips], notes=notes)
        return Generated(sampler=sampler, videos=clips, notes=notes)

    def low_memory(self, pipe: Any, device: str) -> list[str]:
        return common.low_memory(pipe, device, self.ram_component if _encoder_on_cpu(pipe) else None)

    def build_smoke(self, target: Path) -> None:
        import torch
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
        from transformers import UMT5Config, UMT5EncoderModel

        from ourvidz_cli.engine.families.smoke_tokenizers import t5_tokenizer

        tokenizer = t5_tokenizer()
        torch.manual_seed(0)
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
        # Wan 2.1's published scheduler: UniPC on flow-matching sigmas, shift 3.0 at 480p.
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
        torch.manual_seed(0)
        text_encoder = UMT5EncoderModel(UMT5Config(
            vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        )).eval()
        torch.manual_seed(0)
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        )
        WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                    transformer=transformer).save_pretrained(target)


FAMILY = Wan()
