"""`ourvidz worker`: run jobs until stopped. By default from this data home's ledger, warm: torch imported
and models kept loaded between commands, so `generate` hands it its job. With `--queue`, from a shared
Redis queue (the seed's sdxl_queue / wan_queue), one of any number of machines, each job completed
exactly once. `ourvidz worker status` lists the warm workers."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from ourvidz_cli.cli.options import BudgetOpt, CompileOpt, DeviceOpt, JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console, table, when
from ourvidz_cli.cli.remote import QueueOpt
from ourvidz_cli.cli.root import sub_app, workspace
from ourvidz_cli.cli.run import RunFlags, make_runner, sigterm_as_interrupt
from ourvidz_cli.errors import UsageError

worker_app = sub_app("Run jobs until stopped: this data home's queue, warm for 'generate' (default), or a shared "
                     "Redis queue (--queue).", invoke_without_command=True)

STRANDED = ("a worker on a shared queue needs SUPABASE_URL and SUPABASE_SERVICE_KEY, or its outputs would be "
            "stranded on this machine; pass --local-results if that is intended")


def _supabase(local_results: bool) -> tuple[Any, str]:
    from ourvidz_cli.cli.sync import client_for
    from ourvidz_cli.sync.client import SupabaseConfig

    if local_results:
        return None, "00000000-0000-0000-0000-000000000000"
    try:
        config = SupabaseConfig.from_env()
    except UsageError:
        raise UsageError(STRANDED) from None
    return client_for(config), config.owner


def _build(url: str, models: str | None, local_results: bool, flags: RunFlags, patience: float,
           preload: str | None) -> tuple[Any, Any, Any]:
    from ourvidz_cli.queue import Worker
    from ourvidz_cli.remote.outage import PatientTransport
    from ourvidz_cli.remote.presence import Presence
    from ourvidz_cli.remote.redis_queue import open_queue
    from ourvidz_cli.remote.results import Results
    from ourvidz_cli.remote.worker_queue import RemoteJobQueue, served_queues

    if preload:
        raise UsageError("--preload is for a worker on this data home; a shared-queue worker loads what its "
                         "queue asks for")
    ws = workspace()
    flags.check()
    queues = served_queues(ws.catalog, models.split(",") if models else None)
    client, owner = _supabase(local_results)
    redis, worker = open_queue(url), Worker()

    def say(text: str) -> None:
        err_console().print(text)

    results = Results(redis, ws.ledger, ws.home, ws.catalog, worker.id, client, owner, say)
    remote = RemoteJobQueue(redis, ws.ledger.queue, ws.catalog, queues, results, say)
    runner = make_runner(ws, flags, queue=remote, worker=worker)
    runner.after_job = remote.after_job
    presence = Presence(redis, worker.id, runner.lease_s, remote.held, queues, say)
    presence.beat()  # reach the queue now: a wrong URL or token fails before any model loads
    # From now on an outage is waited out.
    redis.t = PatientTransport(redis.t, patience or None, say, longest_pause_s=min(5.0, runner.lease_s / 4))
    return runner, presence, remote


@worker_app.callback()
def worker(
    ctx: typer.Context,
    queue: QueueOpt = None,
    models: Annotated[str | None, typer.Option(
        "--models", help="Shared queue: model families this machine serves, e.g. sdxl (a 12 GB card) or sdxl,wan "
        "(default: all).")] = None,
    preload: Annotated[str | None, typer.Option(
        "--preload", help="Load the models of these job types before taking jobs, e.g. sdxl_image_fast.")] = None,
    max_jobs: Annotated[int | None, typer.Option("--max-jobs", min=1, help="Stop after N jobs.")] = None,
    drain: Annotated[bool, typer.Option("--drain", help="Stop when the queues are empty, not wait for more.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls of empty queues.")] = 2.0,
    max_wait: Annotated[float, typer.Option(
        "--max-wait", min=0, help="Seconds a job whose models are not loaded may wait behind other models' work "
        "before this worker switches to it.")] = 1800.0,
    local_results: Annotated[bool, typer.Option(
        "--local-results", help="Shared queue: keep outputs on this machine (no Supabase upload, no callback).")
    ] = False,
    patience: Annotated[float, typer.Option(
        "--patience", min=0, help="Shared queue: seconds to keep retrying while the queue's server is unreachable "
        "(a restart, a failover), keeping the jobs in hand, before the worker stops; 0 waits for ever.")] = 0.0,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    compile_: CompileOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run jobs until stopped (Ctrl-C or SIGTERM hands the job in progress back)."""
    from ourvidz_cli.remote.transport import queue_url

    if ctx.invoked_subcommand is not None:
        return
    url = queue_url(queue)
    flags = RunFlags(device=device, vram_budget=vram_budget, compile=compile_, max_wait_s=max_wait,
                     enhance_batch=0 if url else 32)
    if url is None:
        if models or local_results:
            raise UsageError("--models and --local-results are for a shared queue (--queue URL); a worker on this "
                             "data home serves every job type of its catalog")
        _run_local(flags, preload.split(",") if preload else [], max_jobs, drain, poll, as_json)
        return
    runner, presence, remote = _build(url, models, local_results, flags, patience, preload)
    err_console().print(f"worker {runner.worker.id} on {remote.redis.display}: serving {', '.join(remote.queues)}")
    presence.start()
    started = time.perf_counter()
    try:
        with sigterm_as_interrupt():
            results = runner.run_queue(max_jobs=max_jobs, watch=not drain, poll_s=poll)
    finally:
        presence.stop()
    _report(results, time.perf_counter() - started, runner, as_json)


def _run_local(flags: RunFlags, preload: list[str], max_jobs: int | None, drain: bool, poll: float,
               as_json: bool) -> None:
    from ourvidz_cli.warm.service import LocalWorker

    ws = workspace()
    ws.ledger.db.check_pages()
    runner = make_runner(ws, flags)  # checks the flags
    settings = {"device_choice": flags.device, "vram_budget": flags.vram_budget, "compile": flags.compile}
    say = err_console().print
    started = time.perf_counter()
    with sigterm_as_interrupt(), LocalWorker(ws, runner, settings, preload, say) as warm:
        say(f"worker {warm.id} ready on {ws.ledger.path} ({settings['device']}): 'ourvidz generate' hands its "
            "jobs here; Ctrl-C stops it")
        results = runner.run_queue(max_jobs=max_jobs, watch=not drain, poll_s=poll)
    _report(results, time.perf_counter() - started, runner, as_json)


def _report(results: list[Any], wall: float, runner: Any, as_json: bool) -> None:
    tally = {st: sum(1 for r in results if r.status == st) for st in ("completed", "failed", "canceled", "queued")}
    if as_json:
        emit_json({**tally, "jobs_run": len(results), "wall_s": round(wall, 3), "model_loads": runner.model_loads,
                   "worker": runner.worker.id, "jobs": [r.as_dict() for r in results]})
    else:
        out_console().print(f"{tally['completed']} completed, {tally['failed']} failed, {tally['canceled']} canceled, "
                            f"{tally['queued']} handed on in {wall:.1f}s; {runner.model_loads} model load(s)")
    if tally["failed"]:
        raise typer.Exit(1)


@worker_app.command("status")
def worker_status(as_json: JsonOpt = False) -> None:
    """The warm workers on this data home: alive or gone, the models each holds, its job and progress
    ('ourvidz queue status --queue URL' shows a shared queue's workers)."""
    from ourvidz_cli.ledger.workers import is_alive

    now = time.time()
    workers = [{"id": w["id"], "alive": is_alive(w, now), "host": w["host"], "pid": w["pid"],
                "device": w["settings"].get("device"), "started_at": when(w["started_at"]),
                "last_beat_s": round(now - w["beat_at"], 1), "resident": w["resident"], "job_id": w["job_id"],
                "phase": w["phase"], "step": w["step"], "steps": w["steps"]} for w in workspace().ledger.workers.all()]
    if as_json:
        emit_json(workers)
        return
    if not workers:
        err_console().print("no warm worker on this data home; start one with 'ourvidz worker'")
        return
    table(("worker", "state", "device", "models loaded", "job", "progress"),
          [[w["id"], "live" if w["alive"] else f"gone ({w['last_beat_s']:.0f}s silent)", str(w["device"]),
            "\n".join(w["resident"]) or "-", str(w["job_id"] or "idle"),
            (f"{w['phase'] or ''} {w['step']}/{w['steps']}" if w["step"] else w["phase"] or "")] for w in workers])
