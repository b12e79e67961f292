"""The run-now path through a warm worker: `generate` and `rerun` hand their job to a live `ourvidz
worker` on the same ledger when there is one, and run it here when there is none or it dies."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ourvidz_cli.api.runner import RunFlags, Voice, make_runner, sync_hook
from ourvidz_cli.errors import Interrupted

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.catalog.resolve import JobSpec
    from ourvidz_cli.engine.jobs.report import Outcome


def via_worker(app: App, spec: JobSpec, flags: RunFlags, voice: Voice) -> Outcome | None:
    """The job's outcome, run by a warm worker (or here, if that worker died); None when no live worker
    serves it as the flags ask, and the caller runs it in this process as before."""
    from ourvidz_cli.warm.handoff import HandOff, pick_worker

    worker = pick_worker(app.ledger, spec.job_type, flags.settings())
    if worker is None:
        return None
    handoff = HandOff(app.ledger, app.home, voice.reporter(), voice.say)
    job_id = handoff.submit(spec, worker)
    here: Any = None
    try:
        while (outcome := handoff.wait(job_id)) is None:
            here = here or _HereRunner(app, flags, voice)
            outcome = here.take(job_id)
            if outcome is not None:
                break
    except (KeyboardInterrupt, Interrupted):  # also once this process took the job over: still canceled
        raise Interrupted(f"interrupted: {handoff.cancel(job_id)}") from None
    if flags.sync:
        sync_hook(app, voice.say)(outcome)
    return outcome


class _HereRunner:
    """Runs the handed-off job in this process once no worker is left to take it."""

    def __init__(self, app: App, flags: RunFlags, voice: Voice) -> None:
        self.runner = make_runner(app, replace(flags, sync=False), voice)  # synced once, by the caller
        self.app, self.say = app, voice.say

    def take(self, job_id: int) -> Outcome | None:
        """None when a worker claimed the job first (then the caller waits on it again)."""
        job = self.app.ledger.queue.take(job_id, self.runner.worker, self.runner.lease_s)
        if job is None:
            return None
        self.say(f"no live worker is left to run job {job_id}; running it here")
        outcome: Outcome = self.runner.run_one(job)
        return outcome
