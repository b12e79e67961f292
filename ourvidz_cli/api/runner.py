"""The runner every caller builds (the CLI, a Studio, a warm worker, a hand-off taken back), its flags, how it
speaks (a `Voice`: nothing here prints), and the per-job Supabase push."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import OurvidzError, UsageError

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.engine.jobs.report import Reporter


@dataclass(frozen=True)
class RunFlags:
    """The options of every run: where, within what memory, compiled, synced."""

    device: str | None = None
    vram_budget: str | None = None  # "20GB"; default: the device's memory minus headroom
    compile: bool = False
    sync: bool = False
    order: str = "smart"
    max_wait_s: float = 1800.0
    enhance_batch: int = 32
    exact: bool = False  # deterministic kernels (rerun --exact); only this process can promise them

    def settings(self) -> dict[str, Any]:
        """What a warm worker must have been started with to run this job (unset: anything)."""
        return {"device": self.device, "vram_budget": self.vram_budget, "compile": self.compile}

    def check(self) -> None:
        """Bad values are usage errors before any job is claimed or written."""
        if self.vram_budget is not None:
            from ourvidz_cli.engine.models.model_store import parse_bytes

            parse_bytes(self.vram_budget)
        if self.exact and self.compile:
            raise UsageError("--exact and --compile do not mix: compiled kernels are autotuned, and may differ run "
                             "to run; drop one of them")
        if self.order not in ("smart", "fifo"):
            raise UsageError(f"--order '{self.order}' is not smart or fifo")
        if self.device is not None:
            from ourvidz_cli.engine.models.device_names import check_device_name

            check_device_name(self.device)


@dataclass(frozen=True)
class Voice:
    """How a run tells its caller what happens: a fresh Reporter per runner (progress), and `say` for
    one-line notes (a reused job, a hand-off, a sync)."""

    reporter: Callable[[], Reporter]
    say: Callable[[str], None]


def make_runner(app: App, flags: RunFlags, voice: Voice, queue: Any = None, worker: Any = None) -> Any:
    """A runner on `queue` (default: the ledger's own queue) as `worker` (default: a new identity)."""
    from ourvidz_cli.engine.jobs.runner import Runner, RunOptions
    from ourvidz_cli.queue import Worker

    flags.check()
    reporter = voice.reporter()
    options = RunOptions(device=flags.device, vram_budget=flags.vram_budget, order=flags.order,
                         max_wait_s=flags.max_wait_s, compile=flags.compile, enhance_batch=flags.enhance_batch,
                         deterministic=flags.exact)
    runner = Runner(queue or app.ledger.queue, app.home, worker or Worker(), app.ledger.enhancements, reporter, options,
                    app.engine(flags.device, flags.vram_budget, flags.compile, on_start=reporter.phase))
    runner.after_job = sync_hook(app, voice.say) if flags.sync else None
    return runner


def sync_hook(app: App, say: Callable[[str], None]) -> Any:
    """Push each completed job as it finishes; a sync problem is reported, never fails the job."""
    from ourvidz_cli.sync.client import SupabaseConfig, client_from_env
    from ourvidz_cli.sync.syncer import Syncer

    config = SupabaseConfig.from_env()  # checks the Supabase settings before any job runs
    pusher = Syncer(app.ledger, app.home, app.catalog, client_from_env(config), config.owner, say=say)

    def push(outcome: Any) -> None:
        if outcome.status != "completed":
            return
        try:
            result = pusher.sync_job(app.ledger.jobs.get(outcome.job_id))
        except OurvidzError as exc:
            say(f"sync of job {outcome.job_id} failed: {exc}; 'ourvidz sync' retries it")
            return
        state = "synced" if not result["failed"] else f"sync incomplete ({len(result['failed'])} failed)"
        say(f"{state}: {len(result['uploaded'])} uploaded, {len(result['skipped'])} skipped")

    return push
