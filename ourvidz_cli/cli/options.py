"""Option sets shared by several commands, defined once so every command spells them the same way."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ourvidz_cli.cli import complete

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
StepsOpt = Annotated[str | None, typer.Option("--steps", help="Denoising steps.")]
SizeOpt = Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT, e.g. 1024x1024.")]
FramesOpt = Annotated[str | None, typer.Option("--frames", help="Video frames (Wan: 4k+1).")]
SeedOpt = Annotated[str | None, typer.Option("--seed", help="Random seed (default: a new one, stored).")]
NegOpt = Annotated[str | None, typer.Option("--negative", help="Negative prompt.")]
CountOpt = Annotated[str | None, typer.Option("--count", help="Outputs per job.")]
GuidanceOpt = Annotated[str | None, typer.Option("--guidance", help="Classifier-free guidance scale.")]
LoraOpt = Annotated[list[str] | None, typer.Option(
    "--lora", help="NAME[:WEIGHT] or a .safetensors path: a LoRA for this job (repeatable); <lora:NAME:W> in the "
                   "prompt does the same. See 'ourvidz loras'.")]
VariationSeedOpt = Annotated[str | None, typer.Option(
    "--variation-seed", help="Lean the starting noise towards this seed's (AUTOMATIC1111's variation seed).")]
VariationStrengthOpt = Annotated[str | None, typer.Option(
    "--variation-strength", help="0..1 with --variation-seed: 0 is --seed's noise, 1 the variation seed's (0.1).")]
PerImageOpt = Annotated[bool, typer.Option(
    "--per-image", help="SDXL: each image of the batch gets its own pick of the prompt's {a|b} and __wildcards__.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", autocompletion=complete.models,
    help="Another catalog model (checkpoint) of the job type's family; see 'ourvidz models list'.")]
SamplerOpt = Annotated[str | None, typer.Option(
    "--sampler", autocompletion=complete.samplers,
    help="SDXL: an AUTOMATIC1111 name (\"DPM++ 2M Karras\"); Wan: unipc, dpm++, euler. See "
                      "'ourvidz samplers'.")]
ShiftOpt = Annotated[str | None, typer.Option("--shift", help="Wan's flow shift (> 0; 3.0 at 480p, 5.0 at 720p).")]
PriorityOpt = Annotated[str | None, typer.Option("--priority", help="Lower runs first (fast types: 1).")]
EnhanceOpt = Annotated[bool, typer.Option("--enhance", help="Rewrite the prompt with Qwen first (any job type).")]
BudgetOpt = Annotated[str | None, typer.Option(
    "--vram-budget", envvar="OURVIDZ_VRAM_BUDGET",
    help="Device memory models may keep, e.g. 20GB (default: all but 2 GiB; RAM on CPU).")]
CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile the denoiser (slow first job).")]
SyncOpt = Annotated[bool, typer.Option("--sync", help="Push each finished job to Supabase (see 'ourvidz sync').")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cuda, cuda:N, mps or cpu.")]
NoWorkerOpt = Annotated[bool, typer.Option(
    "--no-worker", envvar="OURVIDZ_NO_WORKER",
    help="Run in this process even when a warm 'ourvidz worker' is running on this data home.")]
AbOpt = Annotated[bool, typer.Option(
    "--ab", help="Also render the raw prompt with the same seed and settings, linked to the enhanced job (A/B).")]
ImageOpt = Annotated[str | None, typer.Option(
    "--image", help="Image types: start from this picture (image-to-image); copied into the data home.")]
StrengthOpt = Annotated[str | None, typer.Option(
    "--strength", help="With --image or --video: 0 < S <= 1, how far from it (default 0.75; 1.0 repaints it).")]
MaskOpt = Annotated[str | None, typer.Option(
    "--mask", help="With --image: repaint only where this mask is white (inpainting).")]
InvertMaskOpt = Annotated[bool, typer.Option("--invert-mask", help="Repaint where the mask is black instead.")]
FitOpt = Annotated[str | None, typer.Option(
    "--fit", help="An image of another shape: letterbox (default, black bars), crop or stretch to the job's size.")]
VideoOpt = Annotated[str | None, typer.Option(
    "--video", help="Wan video types: start from this clip (video-to-video, its first frames at the job's rate).")]
FirstFrameOpt = Annotated[str | None, typer.Option(
    "--first-frame", help="Wan video types: the clip opens on this picture (VACE).")]
LastFrameOpt = Annotated[str | None, typer.Option(
    "--last-frame", help="Wan video types: the clip ends on this picture (VACE).")]
RefImageOpt = Annotated[list[str] | None, typer.Option(
    "--ref-image", help="Wan video types: a subject to keep in the clip (VACE); repeat for more.")]
JobIdArg = Annotated[int, typer.Argument(help="Job id.", autocompletion=complete.job_ids)]
AssetIdArg = Annotated[int, typer.Argument(help="Asset id.")]


def overrides(**values: Any) -> dict[str, Any]:
    """The per-job options the user actually gave."""
    return {k: v for k, v in values.items() if v is not None}
