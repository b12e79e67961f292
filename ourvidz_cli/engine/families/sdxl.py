"""SDXL through diffusers' StableDiffusionXLPipeline: one batched call for all of a job's images.

A diffusers folder, a repo id, or a single-file checkpoint (`.safetensors`, as community models ship)
loaded with `from_single_file` against a local diffusers config so it works offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.families import diffusers_common as common
from ourvidz_cli.engine.families import samplers as sampler_tables
from ourvidz_cli.engine.families.base import DIFFUSERS_ALLOW, DIFFUSERS_IGNORE, at_revision
from ourvidz_cli.engine.families.request import Generated, GenRequest, StepCallback, step_callback

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
SAMPLERS = sampler_tables.SDXL


def _mode(pipe: Any, req: GenRequest) -> tuple[Any, dict[str, Any], int]:
    """Text-to-image, image-to-image or inpainting: the same loaded components in each pipeline class
    (`from_pipe` shares them: no second load, no second copy in memory), with the job's own sampler when it
    chose one; the steps that will run."""
    from ourvidz_cli.engine.families import samplers

    scheduler = samplers.for_job(samplers.SDXL, pipe.scheduler, req.sampler, None)
    chosen = {"scheduler": scheduler} if scheduler is not None else {}
    if req.image is None:
        if chosen:
            from diffusers import AutoPipelineForText2Image

            pipe = common.quiet(AutoPipelineForText2Image.from_pipe(pipe, **chosen))
        return pipe, {"width": req.width, "height": req.height}, req.steps
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    # diffusers runs int(steps x strength) of the schedule, at least one.
    steps_run = max(1, min(int(req.steps * req.strength), req.steps))
    if req.mask is None:
        extra = {"image": req.image, "strength": req.strength}
        return common.quiet(AutoPipelineForImage2Image.from_pipe(pipe, **chosen)), extra, steps_run
    extra = {"image": req.image, "mask_image": req.mask, "strength": req.strength, "width": req.width,
             "height": req.height}
    return common.quiet(AutoPipelineForInpainting.from_pipe(pipe, **chosen)), extra, steps_run


def _variation(pipe: Any, req: GenRequest) -> tuple[Any, Any]:
    """The starting noise for a variation seed, shaped and typed as SDXL's own prepare_latents makes it."""
    from ourvidz_cli.engine.families.variation import start_noise

    scale = pipe.vae_scale_factor
    shape = (req.count, pipe.unet.config.in_channels, req.height // scale, req.width // scale)
    dtype = (pipe.text_encoder_2 or pipe.unet).dtype
    return start_noise(shape, req.seed, req.variation_seed or 0, req.variation_strength, pipe._execution_device,
                       dtype)


class Sdxl:
    kind = "sdxl"
    marker = "model_index.json"
    pull_allow = DIFFUSERS_ALLOW
    pull_ignore = DIFFUSERS_IGNORE
    fp32_components: tuple[str, ...] = ()
    ram_component = None
    # What a job may start from, by output: --image (image-to-image) and --mask (inpainting).
    inputs = {"png": ("image", "mask")}
    samplers = SAMPLERS  # --sampler: AUTOMATIC1111's names

    def load(self, model: ModelRef, device: str, dtype: Any, mode: str = "full", compile_: bool = False) -> Any:
        import torch
        from diffusers import AutoencoderKL, StableDiffusionXLPipeline

        # The stock SDXL VAE overflows in float16, so diffusers upcasts it to float32 for every decode;
        # an fp16-safe VAE (models.toml `vae =`) decodes in half precision instead.
        extra = {}
        if model.vae:
            try:
                pinned = {"revision": model.vae_revision} if model.vae_revision else {}
                extra["vae"] = AutoencoderKL.from_pretrained(model.vae, dtype=dtype, **pinned)
            except OSError as exc:
                raise OSError(f"its VAE {model.vae} could not be loaded ({str(exc).strip().splitlines()[0]})") from exc
        if model.source.endswith(SINGLE_FILE_SUFFIXES):
            pipe = StableDiffusionXLPipeline.from_single_file(
                model.source, config=model.config, torch_dtype=dtype, **extra)
        else:
            pipe = StableDiffusionXLPipeline.from_pretrained(model.source, dtype=dtype, **extra, **at_revision(model))
        pipe.set_progress_bar_config(disable=True)
        common.fuse_loras(pipe, model.loras)
        pipe = pipe.to(device)
        if device.startswith("cuda"):
            pipe.unet.to(memory_format=torch.channels_last)
            pipe.vae.enable_slicing()  # six 1024px decodes one at a time: same pixels, a sixth of the peak
        common.maybe_compile(pipe, "unet", compile_)
        return pipe

    def generate(self, pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated:
        import torch

        from ourvidz_cli.prompts.sdxl_encode import text_inputs

        notes = common.apply_adapters(pipe, req.adapters)
        run, extra, steps_run = _mode(pipe, req)
        generator = torch.Generator("cpu").manual_seed(req.seed)
        if req.variation_seed is not None:
            extra["latents"], generator = _variation(pipe, req)
        with torch.inference_mode():
            out = run(
                **text_inputs(pipe, list(req.per_image) or req.prompt, req.negative, req.weighting),
                num_inference_steps=req.steps,
                guidance_scale=req.guidance,
                num_images_per_prompt=1 if req.per_image else req.count,
                generator=generator,
                output_type="pil",
                callback_on_step_end=step_callback(on_step, steps_run),
                **extra,
            )
        return Generated(sampler=req.sampler or type(run.scheduler).__name__, images=list(out.images), notes=notes)

    def low_memory(self, pipe: Any, device: str) -> list[str]:
        return common.low_memory(pipe, device)

    def build_smoke(self, target: Path) -> None:
        import torch
        from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

        from ourvidz_cli.engine.families.smoke_tokenizers import clip_tokenizer

        tokenizer = clip_tokenizer()
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
            use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 1), projection_class_embeddings_input_dim=80, cross_attention_dim=64,
            norm_num_groups=8,
        )
        # SDXL base's own scheduler settings.
        scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                           beta_schedule="scaled_linear", timestep_spacing="leading")
        torch.manual_seed(0)
        vae = AutoencoderKL(
            block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4, sample_size=128,
            down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        )
        text_config = CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
            num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), hidden_act="gelu",
            projection_dim=32,
        )
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(text_config).eval()
        torch.manual_seed(0)
        text_encoder_2 = CLIPTextModelWithProjection(text_config).eval()
        StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=tokenizer, unet=unet, scheduler=scheduler, image_encoder=None, feature_extractor=None,
        ).save_pretrained(target)


FAMILY = Sdxl()
