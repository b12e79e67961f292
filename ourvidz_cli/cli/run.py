"""Running jobs from a command: the one run-now path `generate` and `rerun` share, the queue runner
they and `queue run` build, SIGTERM handling, and the per-job Supabase push."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from ourvidz_cli.cli.output import emit_json, err_console
from ourvidz_cli.errors import OurvidzError, UsageError

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.catalog.resolve import JobSpec


@dataclass(frozen=True)
class RunFlags:
    """The options of every command that runs jobs: where, within what memory, compiled, synced."""

    device: str | None = None
    vram_budget: str | None = None
    compile: bool = False
    sync: bool = False
    order: str = "smart"
    max_wait_s: float = 1800.0
    enhance_batch: int = 32
    exact: bool = False  # deterministic kernels (rerun --exact); only this process can promise them

    def settings(self) -> dict[str, Any]:
        """What a warm worker must have been started with to run this command's job (unset: anything)."""
        return {"device": self.device, "vram_budget": self.vram_budget, "compile": self.compile}

    def check(self) -> None:
        """Bad values are usage errors before any job is claimed or written."""
        if self.vram_budget is not None:
            from ourvidz_cli.engine.model_store import parse_bytes

            parse_bytes(self.vram_budget)
        if self.order not in ("smart", "fifo"):
            raise UsageError(f"--order '{self.order}' is not smart or fifo")
        if self.device is not None:
            from ourvidz_cli.engine.device_names import check_device_name

            check_device_name(self.device)


def make_runner(app: App, flags: RunFlags, queue: Any = None, worker: Any = None) -> Any:
    """A runner on `queue` (default: the ledger's own queue) as `worker` (default: a new identity)."""
    from ourvidz_cli.cli.progress import ConsoleReporter
    from ourvidz_cli.engine.runner import Runner, RunOptions
    from ourvidz_cli.queue import Worker

    flags.check()
    reporter = ConsoleReporter()
    options = RunOptions(device=flags.device, vram_budget=flags.vram_budget, order=flags.order,
                         max_wait_s=flags.max_wait_s, compile=flags.compile, enhance_batch=flags.enhance_batch,
                         deterministic=flags.exact)
    runner = Runner(queue or app.ledger.queue, app.home, worker or Worker(), app.ledger.enhancements, reporter, options,
                    app.engine(flags.device, flags.vram_budget, flags.compile, on_start=reporter.phase))
    runner.after_job = sync_hook(app) if flags.sync else None
    return runner


def run_now(app: App, spec: JobSpec, flags: RunFlags, as_json: bool, extra: dict[str, Any] | None = None,
            use_worker: bool = True, reuse: bool = True, ab: bool = False) -> None:
    """Run one job now and print its outputs (or one JSON object); exit 1 if it failed. With `ab`, then the
    same job on the raw prompt, linked to it, whose outputs follow (in JSON: under "pair")."""
    from ourvidz_cli.catalog.resolve import raw_twin

    flags.check()  # before the job is written
    if ab:
        raw_twin(spec, 0)  # a job type that is not enhanced is refused before anything runs
    extra = dict(extra or {})
    outcomes = [outcome_now(app, spec, flags, extra, use_worker, reuse)]
    if ab:
        twin_extra: dict[str, Any] = {}
        outcomes.append(outcome_now(app, raw_twin(spec, outcomes[0].job_id), flags, twin_extra, use_worker, reuse))
        extra["pair"] = {**outcomes[1].as_dict(), **twin_extra, "pair_of": outcomes[0].job_id}
        err_console().print(f"A/B: job {outcomes[0].job_id} (enhanced) and job {outcomes[1].job_id} (raw prompt); "
                            "'ourvidz gallery' shows them side by side")
    if as_json:
        emit_json({**outcomes[0].as_dict(), **extra})
    else:
        for path in [p for outcome in outcomes for p in outcome.outputs]:
            print(path)
    failed = [o for o in outcomes if o.status != "completed"]
    for outcome in failed if not as_json else []:
        err_console().print(f"error: job {outcome.job_id} {outcome.status}: {outcome.error} "
                            f"(details: ourvidz jobs show {outcome.job_id})")
    if failed:
        raise typer.Exit(1)


def outcome_now(app: App, spec: JobSpec, flags: RunFlags, extra: dict[str, Any], use_worker: bool,
                reuse: bool) -> Any:
    """One job's outcome: from an identical finished job's files (`reuse`), a warm worker on this ledger
    (`use_worker`), or this process."""
    from ourvidz_cli.cli.handoff import via_worker

    outcome = reused(app, spec, extra) if reuse and spec.fingerprint else None
    with sigterm_as_interrupt():
        if outcome is None and use_worker:
            outcome = via_worker(app, spec, flags)
        if outcome is None:
            outcome = make_runner(app, flags).generate_now(spec)
    return outcome


def reused(app: App, spec: JobSpec, extra: dict[str, Any]) -> Any:
    """A completed job's outputs for an identical request (its id goes into `extra`), or None."""
    from ourvidz_cli.engine.report import Outcome
    from ourvidz_cli.library.reuse import find_reusable

    hit = find_reusable(app.ledger, app.home, spec.fingerprint or "")
    if hit is None:
        return None
    original, paths = hit
    job_id = app.ledger.queue.add_reused(spec, original)
    err_console().print(f"job {job_id}: the same request as job {original['id']}, whose outputs are intact; "
                        "reusing them (--force renders it again)")
    extra["reused_from"] = original["id"]
    return Outcome(job_id, spec.job_type, "completed", paths, None, 0.0, original["enhanced_prompt"],
                   spec.config.smoke)


def sync_hook(app: App) -> Any:
    """Push each completed job as it finishes; a sync problem is reported, never fails the job."""
    from ourvidz_cli.cli.sync import syncer

    pusher = syncer()  # checks the Supabase settings before any job runs

    def push(outcome: Any) -> None:
        if outcome.status != "completed":
            return
        try:
            result = pusher.sync_job(app.ledger.jobs.get(outcome.job_id))
        except OurvidzError as exc:
            err_console().print(f"  sync of job {outcome.job_id} failed: {exc}; 'ourvidz sync' retries it")
            return
        state = "synced" if not result["failed"] else f"sync incomplete ({len(result['failed'])} failed)"
        err_console().print(f"  {state}: {len(result['uploaded'])} uploaded, {len(result['skipped'])} skipped")

    return push


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`) takes the same clean path as Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
