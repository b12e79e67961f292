"""The queue, jobs and assets of a Studio's data home, as Python objects (the CLI's `queue`, `jobs` and
`assets` commands over the same ledger)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ourvidz_cli.api.events import Event, EventReporter

if TYPE_CHECKING:
    from ourvidz_cli.api.studio import Result, Studio


class QueueApi:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def add(self, job_type: str, prompt: str, **options: Any) -> list[int]:
        """Queue one job (the same options as `Studio.generate`); its id in a list."""
        spec = self.studio.resolve(job_type, prompt, options)
        return list(self.studio.app.ledger.queue.add([spec]))

    def run(self, max_jobs: int | None = None, on_progress: Callable[[Event], None] | None = None) -> list[Result]:
        """Run queued jobs (as `ourvidz queue run`) until none is left or `max_jobs` ran."""
        from ourvidz_cli.api.run import Voice, make_runner

        reporter = EventReporter(on_progress)
        runner = make_runner(self.studio.app, self.studio.flags, Voice(lambda: reporter, reporter.phase))
        return [self.studio.result(o, {}, strict=False) for o in runner.run_queue(max_jobs)]

    def plan(self) -> dict[str, Any]:
        """What `run` would do: the order, loads, evictions and estimated seconds (`ourvidz queue plan`)."""
        from ourvidz_cli.engine.planner import Planner, device_and_budget

        flags = self.studio.flags
        where, budget = device_and_budget(flags.device, flags.vram_budget)
        return Planner(self.studio.app.ledger, where, budget).run().as_dict()


class JobsApi:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def get(self, job_id: int) -> dict[str, Any]:
        """A job's ledger row, its config as the resolved settings (a dict)."""
        job = dict(self.studio.app.ledger.jobs.get(job_id))
        job["config"] = job["config"].to_dict()
        return job

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return [self.get(j["id"]) for j in self.studio.app.ledger.jobs.list(status, limit)]


class AssetsApi:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def list(self, bucket: str | None = None, search: str | None = None, since: str | None = None,
             limit: int | None = None) -> list[dict[str, Any]]:
        """Generated files, newest first (as `ourvidz assets list`)."""
        from ourvidz_cli.ledger import AssetFilter
        from ourvidz_cli.library.assets import Library, parse_since

        flt = AssetFilter(bucket=bucket, search=search, since=parse_since(since) if since else None, limit=limit)
        return list(Library(self.studio.app.ledger, self.studio.app.home).list(flt))
