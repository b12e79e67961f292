"""A Studio's queue (`studio.queue`): add jobs (one, a file, an A/B pair, every expansion of a template), run
them in batches, plan a run, cancel and retry, as `ourvidz queue ...` does over the same ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ourvidz_cli.api.events import Event, EventReporter
from ourvidz_cli.api.inputs import set_options
from ourvidz_cli.api.result import Result
from ourvidz_cli.errors import UsageError

if TYPE_CHECKING:
    from ourvidz_cli.api.runner import RunFlags
    from ourvidz_cli.app import App


class Studio(Protocol):
    """What the queue needs of the Studio (api.studio) that owns it."""

    app: App
    flags: RunFlags

    def resolve(self, job_type: str, prompt: str, options: dict[str, Any]) -> Any: ...
    def inputs(self, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]: ...
    def result(self, outcome: Any, extra: dict[str, Any], strict: bool = True) -> Result: ...


class QueueRun(list[Result]):
    """The Results of one queue run, in the order the jobs finished, and what the run cost."""

    def __init__(self, results: list[Result], runner: Any, wall_s: float) -> None:
        super().__init__(results)
        self.model_loads: int = runner.model_loads
        self.evictions: int = runner.evictions
        self.batched_enhancements: int = runner.batched_enhancements
        self.wall_s = wall_s

    def tally(self) -> dict[str, int]:
        """How many jobs ended in each status."""
        return {st: sum(1 for r in self if r.status == st) for st in ("completed", "failed", "canceled", "queued")}


class QueueApi:
    """The queue of a Studio's ledger. Adding wakes the idle warm workers of the same home."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def add(self, job_type: str, prompt: str, *, ab: bool = False, combinations: bool = False,
            **options: Any) -> list[int]:
        """Queue one job (the same options as `Studio.generate`, and `priority`); the new ids. `ab`: with its
        raw-prompt twin, to compare; `combinations`: every expansion of the prompt's {a|b} and __wildcards__."""
        from ourvidz_cli.catalog.resolve import raw_twin

        app = self.studio.app
        if combinations:
            if ab:
                raise UsageError("--combinations and --ab do not mix: queue the pair of one prompt, or every expansion")
            images, given = self.studio.inputs(options)
            if images.prepared:  # checked on the template first, and stored before any job can claim them
                app.resolve(job_type, prompt, given)
                images.store(app.home)
            return self._rang(app.enqueue_combinations(job_type, prompt, given))
        spec = self.studio.resolve(job_type, prompt, options)
        ids = app.ledger.queue.add_pair(spec, raw_twin(spec, 0)) if ab else app.ledger.queue.add([spec])
        return self._rang(ids)

    def add_file(self, path: str | Path, **defaults: Any) -> list[int]:
        """Every job of a .jsonl or .csv file (`defaults` for what a line leaves out); a bad line queues none."""
        return self._rang(self.studio.app.enqueue_file(Path(path), set_options(defaults)))

    def rerun(self, job_id: int, seed: int | None = None) -> list[int]:
        """Queue a job again from its stored settings (the same seed unless `seed`); the new id in a list."""
        return self._rang(self.studio.app.ledger.queue.add([self.studio.app.rerun_spec(job_id, seed)]))

    def _rang(self, ids: list[int]) -> list[int]:
        from ourvidz_cli.warm.handoff import ring_workers

        ring_workers(self.studio.app.ledger)
        return ids

    def run(self, max_jobs: int | None = None, on_progress: Callable[[Event], None] | None = None, *,
            watch: bool = False, poll_s: float = 2.0, order: str = "smart", max_wait_s: float = 1800.0,
            enhance_batch: int = 32) -> QueueRun:
        """Run queued jobs (as `ourvidz queue run`) until none is left or `max_jobs` ran (`watch`: keep polling).
        Failed jobs are Results with their error, not exceptions."""
        from ourvidz_cli.api.runner import Voice, make_runner

        flags = replace(self.studio.flags, order=order, max_wait_s=max_wait_s, enhance_batch=enhance_batch)
        reporter = EventReporter(on_progress)
        runner = make_runner(self.studio.app, flags, Voice(lambda: reporter, reporter.phase))
        self.studio.app.ledger.db.check_pages()  # a damaged page is named, not read as an empty queue
        started = time.perf_counter()
        outcomes = runner.run_queue(max_jobs=max_jobs, watch=watch, poll_s=poll_s)
        results = [self.studio.result(o, {}, strict=False) for o in outcomes]
        return QueueRun(results, runner, time.perf_counter() - started)

    def plan(self, order: str = "smart", max_wait_s: float = 1800.0, enhance_batch: int = 32) -> dict[str, Any]:
        """What `run` would do, without running anything: the order, loads, evictions and estimated seconds
        (`ourvidz queue plan --json`)."""
        from ourvidz_cli.engine.jobs.planner import Planner, device_and_budget

        flags = replace(self.studio.flags, order=order)
        flags.check()
        where, budget = device_and_budget(flags.device, flags.vram_budget)
        return Planner(self.studio.app.ledger, where, budget, flags.compile, order, max_wait_s,
                       enhance_batch).run().as_dict()

    def cancel(self, job_id: int) -> str:
        """Cancel a queued job, or stop a running one at its next step; says which it did."""
        return str(self.studio.app.ledger.queue.cancel(job_id))

    def retry(self, job_id: int) -> None:
        """Put a failed or canceled job back in the queue, with fresh attempts."""
        self.studio.app.ledger.queue.retry(job_id)
