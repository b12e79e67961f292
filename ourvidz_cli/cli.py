"""The `ourvidz` command line: parses, calls the package, prints. Holds no logic of its own."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ourvidz_cli import __version__
from ourvidz_cli.cli_common import (
    BudgetOpt,
    CompileOpt,
    CountOpt,
    DeviceOpt,
    EnhanceOpt,
    FramesOpt,
    GuidanceOpt,
    JsonOpt,
    NegOpt,
    PriorityOpt,
    SeedOpt,
    SizeOpt,
    State,
    StepsOpt,
    SyncOpt,
    app,
    emit_json,
    err_console,
    jobs_app,
    models_app,
    out_console,
    queue_app,
    studio,
    when,
)
from ourvidz_cli.errors import OurvidzError, UsageError
from ourvidz_cli.ledger import STATUSES
from ourvidz_cli.paths import resolve_home
from ourvidz_cli.studio import Settings


def overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@app.callback()
def root(
    home: Annotated[Path | None, typer.Option("--home", help="Data home (env OURVIDZ_HOME).")] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="Use tiny random-weight models (built if missing).")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", envvar="OURVIDZ_CONFIG", help="Another catalog (models.toml).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """ourvidz: image and video generation on one GPU, with a SQLite job ledger."""
    if version:
        print(f"ourvidz {__version__}")
        raise typer.Exit()
    if smoke and config:
        raise UsageError("--smoke and --config both pick a catalog; use one")
    State.settings = Settings(home=resolve_home(str(home) if home else None), config=config, smoke=smoke)
    State.debug = debug


@app.command()
def generate(
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="Job type; see 'ourvidz job-types'.")],
    prompt: Annotated[str, typer.Argument(help="What to generate.")],
    steps: StepsOpt = None,
    size: SizeOpt = None,
    frames: FramesOpt = None,
    seed: SeedOpt = None,
    negative: NegOpt = None,
    count: CountOpt = None,
    guidance: GuidanceOpt = None,
    enhance: EnhanceOpt = False,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    compile_: CompileOpt = False,
    sync: SyncOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate now, in this process, and print the output paths."""
    from ourvidz_cli.progress import ConsoleReporter
    from ourvidz_cli.runner import Runner, RunOptions, sigterm_as_interrupt
    from ourvidz_cli.worker import Worker

    s = studio()
    spec = s.resolve(job_type, prompt, overrides(steps=steps, size=size, frames=frames, seed=seed,
                                                 negative=negative, count=count, guidance=guidance,
                                                 enhance=enhance or None))
    _check_budget(vram_budget)
    runner = Runner(s.ledger, s.home, Worker(), ConsoleReporter(),
                    options=RunOptions(device=device, vram_budget=vram_budget, compile=compile_))
    runner.after_job = _sync_hook(s) if sync else None
    with sigterm_as_interrupt():
        outcome = runner.generate_now(spec)
    if as_json:
        emit_json(outcome.as_dict())
    else:
        for path in outcome.outputs:
            print(path)
    if outcome.status != "completed":
        if not as_json:
            err_console().print(f"error: job {outcome.job_id} {outcome.status}: {outcome.error} "
                                f"(details: ourvidz jobs show {outcome.job_id})")
        raise typer.Exit(1)


@app.command("job-types")
def job_types(as_json: JsonOpt = False) -> None:
    """List the job types in the catalog."""
    cat = studio().catalog
    rows = [
        {
            "type": jt.name, "model": jt.model, "enhancer": jt.enhancer, "steps": jt.steps,
            "frames": jt.frames, "size": f"{jt.width}x{jt.height}", "count": jt.count, "output": jt.output,
            "bucket": jt.bucket, "priority": jt.priority, "guidance": jt.guidance,
        }
        for jt in cat.job_types.values()
    ]
    if as_json:
        emit_json({"catalog": str(cat.path), "smoke": cat.smoke, "job_types": rows})
        return
    from rich.table import Table

    table = Table(title=f"job types ({cat.path})")
    for col in ("type", "model", "steps", "frames", "size (WxH)", "outputs", "enhanced", "priority"):
        table.add_column(col)
    for r in rows:
        model = f"{r['enhancer']} → {r['model']}" if r["enhancer"] else r["model"]
        table.add_row(r["type"], model, str(r["steps"]), str(r["frames"] or "image"), r["size"],
                      f"{r['count']} {r['output'].upper()}", "yes" if r["enhancer"] else "no", str(r["priority"]))
    out_console().print(table)


# -- queue --------------------------------------------------------------------------------------


@queue_app.command("add")
def queue_add(
    job_type: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="Job type.")] = None,
    prompt: Annotated[str | None, typer.Argument(metavar="[PROMPT]", help="What to generate.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Jobs from a .jsonl or .csv file.")] = None,
    steps: StepsOpt = None,
    size: SizeOpt = None,
    frames: FramesOpt = None,
    seed: SeedOpt = None,
    negative: NegOpt = None,
    count: CountOpt = None,
    guidance: GuidanceOpt = None,
    priority: PriorityOpt = None,
    enhance: EnhanceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Queue one job, or every job in a file; prints the new job ids."""
    s = studio()
    opts = overrides(steps=steps, size=size, frames=frames, seed=seed, negative=negative, count=count,
                     guidance=guidance, priority=priority, enhance=enhance or None)
    if file is not None:
        if job_type or prompt:
            raise UsageError("give either TYPE PROMPT or --file, not both")
        ids = s.enqueue_file(file, opts)
    else:
        if job_type is None or prompt is None:
            raise UsageError("give TYPE and PROMPT, or --file jobs.jsonl")
        ids = s.enqueue(job_type, prompt, opts)
    if as_json:
        emit_json({"job_ids": ids})
    else:
        print("\n".join(str(i) for i in ids))
        err_console().print(f"queued {len(ids)} job(s); run them with 'ourvidz queue run'")


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
        "--max-wait", min=0, help="Seconds after which a queued job runs next regardless (no starvation).")
    ] = 1800.0,
    compile_: CompileOpt = False,
    sync: SyncOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run queued jobs until the queue is empty: fast before high, preferring loaded models."""
    from ourvidz_cli.progress import ConsoleReporter
    from ourvidz_cli.runner import Runner, RunOptions, sigterm_as_interrupt
    from ourvidz_cli.worker import Worker

    if order not in ("smart", "fifo"):
        raise UsageError(f"--order '{order}' is not smart or fifo")
    _check_budget(vram_budget)
    s = studio()
    runner = Runner(s.ledger, s.home, Worker(), ConsoleReporter(),
                    options=RunOptions(device=device, vram_budget=vram_budget, order=order, max_wait_s=max_wait,
                                       compile=compile_))
    runner.after_job = _sync_hook(s) if sync else None
    started = time.perf_counter()
    with sigterm_as_interrupt():
        results = runner.run_queue(max_jobs=max_jobs, watch=watch, poll_s=poll)
    wall = time.perf_counter() - started
    tally = {st: sum(1 for r in results if r.status == st) for st in ("completed", "failed", "canceled", "queued")}
    loads = runner.model_loads
    if as_json:
        emit_json({**tally, "jobs_run": len(results), "wall_s": round(wall, 3), "model_loads": loads,
                   "evictions": runner.evictions, "batched_enhancements": runner.batched_enhancements,
                   "order": order, "jobs": [r.as_dict() for r in results]})
    else:
        from rich.table import Table

        table = Table(title="queue run")
        for col in ("job", "type", "status", "seconds", "outputs / error"):
            table.add_column(col)
        for r in results:
            table.add_row(str(r.job_id), r.job_type, r.status, f"{r.duration_s:.1f}",
                          r.error or "\n".join(r.outputs))
        out = out_console()
        out.print(table)
        out.print(
            f"{tally['completed']} completed, {tally['failed']} failed, {tally['canceled']} canceled "
            f"in {wall:.1f}s; {loads} model load(s), {runner.evictions} eviction(s)"
        )
    if tally["failed"]:
        raise typer.Exit(1)


def _sync_hook(s: Any) -> Any:
    """Push each completed job as it finishes; a sync problem is reported, never fails the job."""
    from ourvidz_cli.cli_sync import syncer

    pusher = syncer()  # checks the Supabase settings before any job runs

    def push(outcome: Any) -> None:
        if outcome.status != "completed":
            return
        try:
            result = pusher.sync_job(s.ledger.get(outcome.job_id))
        except OurvidzError as exc:
            err_console().print(f"  sync of job {outcome.job_id} failed: {exc}; 'ourvidz sync' retries it")
            return
        state = "synced" if not result["failed"] else f"sync incomplete ({len(result['failed'])} failed)"
        err_console().print(f"  {state}: {len(result['uploaded'])} uploaded, {len(result['skipped'])} skipped")

    return push


def _check_budget(budget: str | None) -> None:
    if budget is not None:
        from ourvidz_cli.model_store import parse_bytes

        parse_bytes(budget)  # a bad size is a usage error before any job is claimed


def job_row(job: dict[str, Any]) -> dict[str, Any]:
    cfg = job["config"]
    return {
        "id": job["id"], "uuid": job["uuid"], "type": job["type"], "status": job["status"],
        "prompt": job["prompt"], "negative_prompt": job["negative_prompt"], "enhanced_prompt": job["enhanced_prompt"],
        "enhance_note": job["enhance_note"], "seed": job["seed"], "priority": job["priority"],
        "attempts": job["attempts"], "max_attempts": job["max_attempts"], "error": job["error"],
        "created_at": when(job["created_at"]), "started_at": when(job["started_at"]),
        "finished_at": when(job["finished_at"]), "duration_s": job["duration_s"], "load_s": job["load_s"],
        "enhance_s": job["enhance_s"], "enhance_cached": bool(job["enhance_cached"]) if job["enhance_cached"]
        is not None else None, "generate_s": job["generate_s"], "peak_mem_mb": job["peak_mem_mb"],
        "mem_kind": job["mem_kind"], "device": job["device"], "fallback": job["fallback"], "rerun_of": job["rerun_of"],
        "worker": job["worker"], "lease_expires_at": when(job["lease_expires_at"]),
        "steps": cfg["steps"], "size": f"{cfg['width']}x{cfg['height']}", "frames": cfg["frames"],
        "count": cfg["count"], "bucket": cfg["bucket"], "config": cfg,
    }


@queue_app.command("list")
def queue_list(
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only jobs in this status: {', '.join(STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most N jobs, newest first; 0 for all.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List jobs, newest first."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status '{status}' is not one of {', '.join(STATUSES)}")
    ledger = studio().ledger
    jobs = ledger.list(status=status, limit=limit or None)
    total = ledger.count(status)
    if len(jobs) < total:
        err_console().print(f"showing the newest {len(jobs)} of {total} jobs; --limit 0 shows all")
    if as_json:
        emit_json([{k: v for k, v in job_row(j).items() if k != "config"} for j in jobs])
        return
    from rich.table import Table

    table = Table()
    for col in ("id", "type", "status", "pri", "tries", "created", "secs", "prompt"):
        table.add_column(col)
    for j in jobs:
        table.add_row(str(j["id"]), j["type"], j["status"], str(j["priority"]),
                      f"{j['attempts']}/{j['max_attempts']}", when(j["created_at"]) or "",
                      f"{j['duration_s']:.1f}" if j["duration_s"] else "", j["prompt"][:48])
    out_console().print(table)


@queue_app.command("cancel")
def queue_cancel(job_id: Annotated[int, typer.Argument(help="Job id.")], as_json: JsonOpt = False) -> None:
    """Cancel a queued job, or stop a running one at its next step."""
    result = studio().ledger.cancel(job_id)
    if as_json:
        emit_json({"job_id": job_id, "result": result})
    else:
        print(f"job {job_id}: {result}")


@queue_app.command("retry")
def queue_retry(job_id: Annotated[int, typer.Argument(help="Job id.")], as_json: JsonOpt = False) -> None:
    """Put a failed or canceled job back in the queue, with fresh attempts."""
    studio().ledger.retry(job_id)
    if as_json:
        emit_json({"job_id": job_id, "status": "queued"})
    else:
        print(f"job {job_id}: queued")


# -- jobs ---------------------------------------------------------------------------------------


@jobs_app.command("show")
def jobs_show(job_id: Annotated[int, typer.Argument(help="Job id.")], as_json: JsonOpt = False) -> None:
    """Everything the ledger knows about a job, with its outputs."""
    s = studio()
    job = job_row(s.ledger.get(job_id))
    assets = s.ledger.assets(job_id)
    for a in assets:
        a["path"] = str(s.home / a["path"])
    if as_json:
        emit_json({**job, "outputs": assets})
        return
    from rich.table import Table

    table = Table(show_header=False, title=f"job {job_id}")
    for key, value in job.items():
        if key != "config" and value not in (None, ""):
            table.add_row(key, str(value))
    out = out_console()
    out.print(table)
    for a in assets:
        out.print(f"{a['path']}  {a['width']}x{a['height']}  {a['bytes']} bytes  sha256 {a['sha256'][:16]}")


# -- models -------------------------------------------------------------------------------------


@models_app.command("init-smoke")
def models_init_smoke(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if present.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build tiny random-weight SDXL, Wan and Qwen models offline (the smoke profile)."""
    s = studio()
    err_console().print("building tiny random-weight models (outputs will be noise) …")
    path = s.ensure_smoke(force=force)
    if as_json:
        emit_json({"catalog": str(path), "models": str(path.parent / "models")})
    else:
        print(path)
        err_console().print("use them with: ourvidz --smoke generate sdxl_image_fast \"a lighthouse at dawn\"")


# Registers the library commands on the same app; imported here so `ourvidz --help` lists them.
from ourvidz_cli import cli_library, cli_models, cli_qwen, cli_sync  # noqa: E402, F401


def _parser_error(exc: Exception) -> tuple[str, int] | None:
    """Typer's command-line errors as (message, exit code); matched by class name because Typer
    vendors its own copy of click in recent releases and uses the real one in older ones."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    ctx = getattr(exc, "ctx", None)
    if "NoArgsIsHelpError" in names and ctx is not None:
        return ctx.get_help(), 2
    if "UsageError" in names:
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        return f"error: {exc.format_message()}{hint}", 2  # type: ignore[attr-defined]
    if "ClickException" in names:
        return f"error: {exc.format_message()}", int(getattr(exc, "exit_code", 1))  # type: ignore[attr-defined]
    if "Abort" in names:
        return "interrupted", 130
    return None


def main() -> None:
    """Entry point: one line on stderr and a meaningful exit code, never a traceback (but --debug)."""
    try:
        code = app(standalone_mode=False)
    except OurvidzError as exc:
        if State.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001  (the promise is: no traceback without --debug)
        parsed = _parser_error(exc)
        if parsed is None and State.debug:
            raise
        message, code = parsed or (
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback)", 1)
        print(message, file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> None:
    """The installed `ourvidz` and `python -m ourvidz_cli`: main(), with an exact 130 after an interrupt.

    An interrupt that lands while torch is importing can leave CPython believing a KeyboardInterrupt
    went unhandled, and it then re-kills the process with SIGINT at exit: callers would see -2, not
    the 130 we promise. By then the job is back in the queue and the ledger committed, so exit now.
    """
    try:
        main()
    except SystemExit as exc:
        if exc.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise
