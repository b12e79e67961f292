"""`ourvidz worker`: run jobs from a shared Redis queue (the seed's sdxl_queue / wan_queue) until
stopped, one of any number of machines, each job completed exactly once."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from ourvidz_cli.cli.options import BudgetOpt, CompileOpt, DeviceOpt, JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console
from ourvidz_cli.cli.remote import QueueOpt, open_queue
from ourvidz_cli.cli.root import app, workspace
from ourvidz_cli.cli.run import RunFlags, make_runner, sigterm_as_interrupt
from ourvidz_cli.errors import UsageError

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


def _build(url: str, models: str | None, local_results: bool, flags: RunFlags) -> tuple[Any, Any, Any]:
    from ourvidz_cli.queue import Worker
    from ourvidz_cli.remote.presence import Presence
    from ourvidz_cli.remote.results import Results
    from ourvidz_cli.remote.worker_queue import RemoteJobQueue, served_queues

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
    return runner, presence, remote


@app.command("worker")
def worker(
    queue: QueueOpt = None,
    models: Annotated[str | None, typer.Option(
        "--models", help="Model families this machine serves, e.g. sdxl (a 12 GB card) or sdxl,wan (default: all).")
    ] = None,
    max_jobs: Annotated[int | None, typer.Option("--max-jobs", min=1, help="Stop after N jobs.")] = None,
    drain: Annotated[bool, typer.Option("--drain", help="Stop when the queues are empty, not wait for more.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between polls of empty queues.")] = 2.0,
    max_wait: Annotated[float, typer.Option(
        "--max-wait", min=0, help="Seconds the head of a queue whose models are not loaded may wait (from its "
        "created_at) before this worker switches to it.")] = 1800.0,
    local_results: Annotated[bool, typer.Option(
        "--local-results", help="Keep outputs on this machine: no Supabase upload, no job-callback.")] = False,
    device: DeviceOpt = None,
    vram_budget: BudgetOpt = None,
    compile_: CompileOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run jobs from a shared queue until stopped (Ctrl-C or SIGTERM hands the job in progress back)."""
    from ourvidz_cli.remote.transport import queue_url

    url = queue_url(queue)
    if url is None:
        raise UsageError("worker needs a shared queue: --queue redis://HOST:6379 (or OURVIDZ_QUEUE, or 'upstash'); "
                         "'ourvidz queue run' runs this machine's own queue")
    flags = RunFlags(device=device, vram_budget=vram_budget, compile=compile_, max_wait_s=max_wait, enhance_batch=0)
    runner, presence, remote = _build(url, models, local_results, flags)
    err_console().print(f"worker {runner.worker.id} on {remote.redis.display}: serving {', '.join(remote.queues)}")
    presence.start()
    started = time.perf_counter()
    try:
        with sigterm_as_interrupt():
            results = runner.run_queue(max_jobs=max_jobs, watch=not drain, poll_s=poll)
    finally:
        presence.stop()
    _report(results, time.perf_counter() - started, runner, as_json)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _report(results: list[Any], wall: float, runner: Any, as_json: bool) -> None:
    tally = {st: sum(1 for r in results if r.status == st) for st in ("completed", "failed", "canceled", "queued")}
    if as_json:
        emit_json({**tally, "jobs_run": len(results), "wall_s": round(wall, 3), "model_loads": runner.model_loads,
                   "worker": runner.worker.id, "jobs": [r.as_dict() for r in results]})
        return
    out_console().print(f"{tally['completed']} completed, {tally['failed']} failed, {tally['canceled']} canceled, "
                        f"{tally['queued']} handed on in {wall:.1f}s; {runner.model_loads} model load(s)")
