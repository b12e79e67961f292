"""`ourvidz generate` and `ourvidz rerun`: run one job now, through one shared path (a warm worker on this
data home when one is running, else this process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ourvidz_cli.cli import complete
from ourvidz_cli.cli.options import (
    AbOpt,
    BudgetOpt,
    CompileOpt,
    CountOpt,
    DeviceOpt,
    EnhanceOpt,
    FirstFrameOpt,
    FitOpt,
    FramesOpt,
    GuidanceOpt,
    ImageOpt,
    InvertMaskOpt,
    JsonOpt,
    LastFrameOpt,
    LoraOpt,
    MaskOpt,
    ModelOpt,
    NegOpt,
    NoWorkerOpt,
    PerImageOpt,
    RefImageOpt,
    SamplerOpt,
    SeedOpt,
    ShiftOpt,
    SizeOpt,
    StepsOpt,
    StrengthOpt,
    SyncOpt,
    VariationSeedOpt,
    VariationStrengthOpt,
    VideoOpt,
)
from ourvidz_cli.cli.output import emit_json
from ourvidz_cli.cli.root import app, studio, workspace
from ourvidz_cli.cli.run import RunFlags, print_results, run_now, sigterm_as_interrupt
from ourvidz_cli.errors import UsageError

if TYPE_CHECKING:
    from ourvidz_cli.api.studio import Studio


@app.command()
def generate(
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="Job type; see 'ourvidz job-types'.",
                                            autocompletion=complete.job_types)],
    prompt: Annotated[str, typer.Argument(help="What to generate.")],
    steps: StepsOpt = None,
    size: SizeOpt = None,
    frames: FramesOpt = None,
    seed: SeedOpt = None,
    negative: NegOpt = None,
    count: CountOpt = None,
    guidance: GuidanceOpt = None,
    model: ModelOpt = None, lora: LoraOpt = None, sampler: SamplerOpt = None, shift: ShiftOpt = None,
    variation_seed: VariationSeedOpt = None, variation_strength: VariationStrengthOpt = None,
    per_image: PerImageOpt = False,
    enhance: EnhanceOpt = False,
    ab: AbOpt = False,
    image: ImageOpt = None,
    strength: StrengthOpt = None,
    mask: MaskOpt = None,
    invert_mask: InvertMaskOpt = False,
    fit: FitOpt = None,
    video: VideoOpt = None,
    first_frame: FirstFrameOpt = None,
    last_frame: LastFrameOpt = None,
    ref_image: RefImageOpt = None,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    compile_: CompileOpt = False,
    sync: SyncOpt = False,
    no_worker: NoWorkerOpt = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Render even when an identical request (same seed and settings) already has outputs.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate now and print the output paths (a running 'ourvidz worker' does it warm; a repeat of a
    finished request with a fixed --seed returns its outputs at once)."""
    st = studio(device, vram_budget, compile_, sync)
    spec = st.resolve(job_type, prompt, dict(
        steps=steps, size=size, frames=frames, seed=seed, negative=negative, count=count, guidance=guidance,
        model=model, lora=lora, sampler=sampler, shift=shift, variation_seed=variation_seed,
        variation_strength=variation_strength, per_image=per_image, enhance=enhance, image=image, strength=strength,
        mask=mask, invert_mask=invert_mask, fit=fit, video=video, first_frame=first_frame, last_frame=last_frame,
        ref_image=ref_image))
    run_now(st, spec, as_json, use_worker=not no_worker, reuse=not force, ab=ab)


@app.command()
def rerun(
    job_id: Annotated[int | None, typer.Argument(help="The job to reproduce.")] = None,
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", help="Reproduce a bundle ('ourvidz assets bundle') and compare the pixels.")] = None,
    seed: SeedOpt = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue it instead of running it now.")] = False,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    compile_: CompileOpt = False,
    sync: SyncOpt = False,
    no_worker: NoWorkerOpt = False,
    exact: Annotated[bool, typer.Option(
        "--exact", help="Deterministic GPU kernels (no TF32, no cuDNN autotuning), in this process: "
                        "slower, but the same pixels run after run.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a job again from its stored settings (same seed unless --seed): the same model files (Hugging
    Face models at the commit the job loaded), same device, same pixels. With --bundle, a bundled job, and
    whether its pixels match."""
    flags = RunFlags(device=device, vram_budget=vram_budget, compile=compile_, sync=sync, exact=exact)
    flags.check()
    if exact and queue:
        raise UsageError("--exact runs the job in this process; it does not apply with --queue")
    if (job_id is None) == (bundle is None):
        raise UsageError("give a JOB_ID, or --bundle FILE.zip")
    if bundle is not None:
        if seed is not None or queue:
            raise UsageError("--bundle reproduces the bundled job as it ran; --seed and --queue do not apply")
        from ourvidz_cli.cli.reproduce import rerun_bundle

        rerun_bundle(workspace(), bundle, flags, not (no_worker or exact), as_json)
        return
    assert job_id is not None
    st = studio(device, vram_budget, compile_, sync)
    if queue:
        ids = st.queue.rerun(job_id, seed)
        if as_json:
            emit_json({"job_ids": ids, "rerun_of": job_id})
        else:
            print(ids[0])
        return
    _rerun_now(st, job_id, seed, exact, not no_worker, as_json)


def _rerun_now(st: Studio, job_id: int, seed: int | None, exact: bool, use_worker: bool, as_json: bool) -> None:
    """A rerun exists to reproduce: it always renders (never answered from an identical job's files)."""
    from ourvidz_cli.api.result import JobFailed
    from ourvidz_cli.cli.progress import ConsoleProgress

    extra: dict[str, object] = {"rerun_of": job_id}
    if exact:
        from ourvidz_cli.engine.jobs.determinism import make_deterministic

        extra["deterministic"] = make_deterministic()
    with sigterm_as_interrupt():
        try:
            result = st.rerun(job_id, seed, exact=exact, use_worker=use_worker, on_progress=ConsoleProgress())
        except JobFailed as failed:
            result = failed.result
    print_results([result], extra, as_json)
