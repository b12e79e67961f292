"""`ourvidz queue ...`: add jobs, run them in batches, list, cancel, retry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ourvidz_cli.cli import remote
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
    JobIdArg,
    JsonOpt,
    LastFrameOpt,
    LoraOpt,
    MaskOpt,
    ModelOpt,
    NegOpt,
    PerImageOpt,
    PriorityOpt,
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
    overrides,
)
from ourvidz_cli.cli.output import emit_json, err_console, out_console, table
from ourvidz_cli.cli.remote import QueueOpt
from ourvidz_cli.cli.root import studio, sub_app, workspace
from ourvidz_cli.cli.run import sigterm_as_interrupt
from ourvidz_cli.errors import UsageError
from ourvidz_cli.queue import STATUSES
from ourvidz_cli.remote.transport import queue_url

if TYPE_CHECKING:
    from ourvidz_cli.api.queue import QueueRun

queue_app = sub_app("Queue jobs and run them in batches.")


@queue_app.command("add")
def queue_add(
    job_type: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="Job type.")] = None,
    prompt: Annotated[str | None, typer.Argument(metavar="[PROMPT]", help="What to generate.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Jobs from a .jsonl or .csv file.")] = None,
    steps: StepsOpt = None, size: SizeOpt = None, frames: FramesOpt = None, seed: SeedOpt = None,
    negative: NegOpt = None, count: CountOpt = None, guidance: GuidanceOpt = None,
    model: ModelOpt = None, lora: LoraOpt = None, sampler: SamplerOpt = None, shift: ShiftOpt = None,
    variation_seed: VariationSeedOpt = None, variation_strength: VariationStrengthOpt = None,
    per_image: PerImageOpt = False,
    combinations: Annotated[bool, typer.Option(
        "--combinations", help="Queue every expansion of the prompt's {a|b} and __wildcards__ (at most 1,000).")
    ] = False,
    priority: PriorityOpt = None,
    enhance: EnhanceOpt = False,
    ab: AbOpt = False,
    image: ImageOpt = None, strength: StrengthOpt = None, mask: MaskOpt = None, invert_mask: InvertMaskOpt = False,
    fit: FitOpt = None, video: VideoOpt = None, first_frame: FirstFrameOpt = None, last_frame: LastFrameOpt = None,
    ref_image: RefImageOpt = None,
    queue: QueueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue one job, or every job in a file; prints the new job ids."""
    url = queue_url(queue)
    inputs = dict(image=image, strength=strength, mask=mask, invert_mask=invert_mask, fit=fit, video=video,
                  first_frame=first_frame, last_frame=last_frame, ref_image=ref_image)
    opts = overrides(steps=steps, size=size, frames=frames, seed=seed, negative=negative, count=count,
                     guidance=guidance, model=model, lora=lora, sampler=sampler, shift=shift,
                     variation_seed=variation_seed, variation_strength=variation_strength,
                     per_image=per_image or None, priority=priority, enhance=enhance or None)
    given_inputs = any(v for k, v in inputs.items() if k not in ("strength", "fit", "invert_mask"))
    _check_what(job_type, prompt, file, ab, url, given_inputs, combinations)
    if url is not None:
        remote.add(workspace(), url, job_type, prompt, file, opts, as_json)
        return
    st = studio()
    if file is not None:
        ids = st.queue.add_file(file, **opts)
    else:
        ids = st.queue.add(str(job_type), str(prompt), ab=ab, combinations=combinations, **opts, **inputs)
    if as_json:
        emit_json({"job_ids": ids})
    else:
        print("\n".join(str(i) for i in ids))
        err_console().print(f"queued {len(ids)} job(s); run them with 'ourvidz queue run'")


def _check_what(job_type: str | None, prompt: str | None, file: Path | None, ab: bool, url: str | None,
                inputs: bool, combinations: bool) -> None:
    if inputs and (file is not None or url is not None):
        raise UsageError("input files (--image, --video, --first-frame, ...) go with one TYPE PROMPT on this machine's "
                         "queue; a job file names them per line")
    if combinations and (file is not None or ab or url is not None):
        raise UsageError("--combinations expands one TYPE PROMPT on this machine's queue; not with --file, --ab or "
                         "--queue")
    if (file is not None and (job_type or prompt)) or (file is None and (job_type is None or prompt is None)):
        raise UsageError("give TYPE and PROMPT, or --file jobs.jsonl (not both)")
    if ab and (file is not None or url is not None):
        raise UsageError("--ab queues one pair on this machine's queue: give TYPE and PROMPT, without --file or "
                         "--queue")


def _summary(run: QueueRun, order: str, as_json: bool) -> dict[str, int]:
    tally = run.tally()
    if as_json:
        emit_json({**tally, "jobs_run": len(run), "wall_s": round(run.wall_s, 3), "model_loads": run.model_loads,
                   "evictions": run.evictions, "batched_enhancements": run.batched_enhancements,
                   "order": order, "jobs": [r.as_dict() for r in run]})
        return tally
    table(("job", "type", "status", "seconds", "outputs / error"),
          [[str(r.job_id), r.job_type, r.status, f"{r.duration_s:.1f}", r.error or "\n".join(r.outputs)]
           for r in run], title="queue run")
    out_console().print(
        f"{tally['completed']} completed, {tally['failed']} failed, {tally['canceled']} canceled "
        f"in {run.wall_s:.1f}s; {run.model_loads} model load(s), {run.evictions} eviction(s)"
    )
    return tally


@queue_app.command("run")
def queue_run(
    max_jobs: Annotated[int | None, typer.Option("--max-jobs", min=1, help="Stop after N jobs.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep polling for new jobs.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between polls with --watch.")] = 2.0,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    order: Annotated[str, typer.Option(
        "--order", help="smart: priority, then jobs whose models are loaded, then age; fifo: arrival order.")
    ] = "smart",
    max_wait: Annotated[float, typer.Option(
        "--max-wait", min=0, help="Seconds a job may wait behind other models' work (from its queueing, its "
        "model's last run or this run's start, whichever is latest) before it runs next regardless.")
    ] = 1800.0,
    enhance_batch: Annotated[int, typer.Option(
        "--enhance-batch", min=0, help="While Qwen is loaded, enhance at most N other queued prompts (and for at "
        "most 2 minutes), so the first outputs do not wait for a whole backlog; 0 turns batching off.")
    ] = 32,
    compile_: CompileOpt = False,
    sync: SyncOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run queued jobs until the queue is empty: fast before high, preferring loaded models."""
    from ourvidz_cli.cli.progress import ConsoleProgress

    st = studio(device, vram_budget, compile_, sync)
    with sigterm_as_interrupt():
        run = st.queue.run(max_jobs, ConsoleProgress(), watch=watch, poll_s=poll, order=order, max_wait_s=max_wait,
                           enhance_batch=enhance_batch)
    if _summary(run, order, as_json)["failed"]:
        raise typer.Exit(1)


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


@queue_app.command("plan")
def queue_plan(
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    order: Annotated[str, typer.Option("--order", help="smart or fifo, as for 'queue run'.")] = "smart",
    max_wait: Annotated[float, typer.Option("--max-wait", min=0, help="As for 'queue run'.")] = 1800.0,
    enhance_batch: Annotated[int, typer.Option("--enhance-batch", min=0, help="As for 'queue run'.")] = 32,
    compile_: CompileOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Without running anything: the order 'queue run' will take, the model loads and evictions it will
    cause under the memory budget, and the time it will take by this machine's past jobs."""
    summary = studio(device, vram_budget, compile_).queue.plan(order, max_wait, enhance_batch)
    if as_json:
        emit_json(summary)
        return
    table(("#", "job", "type", "loads", "evicts", "est. s"),
          [[str(n), str(s["job_id"]), s["job_type"], ", ".join(s["loads"]), ", ".join(s["evicts"]),
            "no history" if s["est_s"] is None else f"{s['est_s']:.1f}"] for n, s in enumerate(summary["steps"], 1)],
          title=f"queue plan ({order}, {summary['device']}, budget {_size(summary['budget_bytes'])})")
    total = "no history" if summary["estimated_s"] is None else f"about {summary['estimated_s']:.0f}s"
    unknown = summary["jobs_without_history"]
    out_console().print(f"{summary['jobs']} job(s); {summary['model_loads']} model load(s), "
                        f"{summary['evictions']} eviction(s); "
                        f"{total}" + (f" ({unknown} job(s) without history not counted)" if unknown and
                                      summary["estimated_s"] is not None else ""))


@queue_app.command("list")
def queue_list(
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only jobs in this status: {', '.join(STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most N jobs, newest first; 0 for all.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    st = studio()
    jobs = st.jobs.list(status=status, limit=limit or None)
    total = st.jobs.count(status)
    if len(jobs) < total:
        err_console().print(f"showing the newest {len(jobs)} of {total} jobs; --limit 0 shows all")
    if as_json:
        emit_json([{k: v for k, v in j.items() if k != "config"} for j in jobs])
        return
    table(("id", "type", "status", "pri", "tries", "created", "secs", "prompt"),
          [[str(j["id"]), j["type"], j["status"], str(j["priority"]), f"{j['attempts']}/{j['max_attempts']}",
            j["created_at"] or "", f"{j['duration_s']:.1f}" if j["duration_s"] else "", j["prompt"][:48]]
           for j in jobs])


@queue_app.command("cancel")
def queue_cancel(
    job_id: Annotated[str, typer.Argument(help="Job id (a shared queue's job id with --queue).")],
    queue: QueueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a queued job, or stop a running one at its next step."""
    url = queue_url(queue)
    if url is not None:
        remote.cancel(url, job_id, as_json)
        return
    result = studio().queue.cancel(remote.local_id(job_id))
    if as_json:
        emit_json({"job_id": int(job_id), "result": result})
    else:
        print(f"job {job_id}: {result}")


@queue_app.command("status")
def queue_status(queue: QueueOpt = None, as_json: JsonOpt = False) -> None:
    """A shared queue's depth per list, its workers and what each holds, dead workers, dead letters."""
    url = queue_url(queue)
    if url is None:
        raise UsageError("queue status reads a shared queue: give --queue URL (or OURVIDZ_QUEUE); "
                         "'ourvidz queue list' and 'ourvidz stats' show this machine's")
    remote.status(url, as_json)


@queue_app.command("retry")
def queue_retry(job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """Put a failed or canceled job back in the queue, with fresh attempts."""
    studio().queue.retry(job_id)
    if as_json:
        emit_json({"job_id": job_id, "status": "queued"})
    else:
        print(f"job {job_id}: queued")
