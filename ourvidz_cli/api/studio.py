"""`Studio`: ourvidz from Python, on the same core as the command line (api.run): the ledger, skip
repeats, warm workers, the engine that keeps models loaded between calls.

    from ourvidz_cli import Studio
    with Studio(smoke=True) as studio:
        result = studio.generate("sdxl_image_fast", "a lighthouse at dawn", seed=5, count=1)
        result.images()[0].save("lighthouse.png")

Errors are the package's own exceptions (ourvidz_cli.errors): UsageError for bad input, JobFailed for a
job that failed, DiskFull, Interrupted; never SystemExit. Constructing a Studio imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ourvidz_cli.api.events import Event, EventReporter
from ourvidz_cli.errors import OurvidzError

INPUTS = ("image", "strength", "mask", "invert_mask", "fit", "video", "first_frame", "last_frame", "ref_image")


class JobFailed(OurvidzError):
    """A job ran and failed (or was canceled); `result` holds what the ledger recorded."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Result:
    """One job's outcome: its id, status, output files, resolved settings and timings."""

    job_id: int
    status: str
    outputs: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float | None] = field(default_factory=dict)
    reused_from: int | None = None

    def images(self) -> list[Any]:
        """The outputs as PIL images (a video's: none)."""
        from PIL import Image

        return [Image.open(p) for p in self.outputs if p.endswith(".png")]

    def frames(self) -> list[Any]:
        """A video's frames, as uint8 arrays (height, width, 3)."""
        from ourvidz_cli.library.contact_sheet import video_frames

        return [f for p in self.outputs if p.endswith(".mp4") for f in video_frames(Path(p))]


class Studio:
    """A data home (default: OURVIDZ_HOME or the platform's data folder), its catalog and its ledger."""

    def __init__(self, home: str | Path | None = None, smoke: bool = False, config: str | Path | None = None,
                 device: str | None = None, vram_budget: str | None = None) -> None:
        from ourvidz_cli.api.run import RunFlags
        from ourvidz_cli.app import App, Settings
        from ourvidz_cli.errors import UsageError
        from ourvidz_cli.paths import resolve_home

        if smoke and config:
            raise UsageError("smoke and config both pick a catalog; use one")
        self.app = App(Settings(home=resolve_home(str(home) if home else None),
                                config=Path(config) if config else None, smoke=smoke))
        self.flags = RunFlags(device=device, vram_budget=vram_budget)
        self.flags.check()
        from ourvidz_cli.api.collections import AssetsApi, JobsApi, QueueApi

        self.queue, self.jobs, self.assets = QueueApi(self), JobsApi(self), AssetsApi(self)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the loaded models and close the ledger."""
        import sys

        manager = sys.modules.get("ourvidz_cli.engine.manager")  # nothing loaded: torch stays unimported
        if manager is not None:
            manager.release_all()
        if "ledger" in self.app.__dict__:
            self.app.ledger.close()

    def generate(self, job_type: str, prompt: str, *, force: bool = False, use_worker: bool = True,
                 on_progress: Callable[[Event], None] | None = None, **options: Any) -> Result:
        """Run one job now (handed to a live warm worker on this home unless `use_worker=False`; an identical
        finished request answered from its files unless `force`). `options` are the CLI's per-job options
        by their long names: seed, steps, size, frames, negative, count, guidance, enhance, sampler, shift,
        model, lora (a list), variation_seed, variation_strength, per_image, image, strength, mask,
        invert_mask, fit, video, first_frame, last_frame, ref_image (a list)."""
        spec = self.resolve(job_type, prompt, options)
        return self._now(spec, use_worker, not force, on_progress)

    def rerun(self, job_id: int, seed: int | None = None, use_worker: bool = True,
              on_progress: Callable[[Event], None] | None = None) -> Result:
        """A job again from its stored settings (the same seed unless `seed`): the same pixels."""
        return self._now(self.app.rerun_spec(job_id, seed), use_worker, False, on_progress)

    def resolve(self, job_type: str, prompt: str, options: dict[str, Any]) -> Any:
        """A job spec from the CLI's options (input files checked, then stored once the job resolved)."""
        from ourvidz_cli.api.inputs import ImageOptions

        options = dict(options)
        images = ImageOptions(**{k: options.pop(k) for k in INPUTS if k in options})
        given = {k: v for k, v in options.items() if v is not None and v is not False}
        spec = self.app.resolve(job_type, prompt, {**given, **images.overrides()})
        images.store(self.app.home)
        return spec

    def _now(self, spec: Any, use_worker: bool, reuse: bool, on_progress: Callable[[Event], None] | None) -> Result:
        from ourvidz_cli.api.run import Voice, outcome_now

        reporter = EventReporter(on_progress)
        extra: dict[str, Any] = {}
        outcome = outcome_now(self.app, spec, self.flags, extra, use_worker, reuse,
                              Voice(lambda: reporter, reporter.phase))
        return self.result(outcome, extra)

    def result(self, outcome: Any, extra: dict[str, Any], strict: bool = True) -> Result:
        """A run's outcome as a Result; with `strict`, a failed or canceled job raises JobFailed."""
        job = self.app.ledger.jobs.get(outcome.job_id)
        timings = {k: job.get(k) for k in ("load_s", "generate_s", "enhance_s", "duration_s")}
        result = Result(outcome.job_id, outcome.status, list(outcome.outputs), job["config"].to_dict(), timings,
                        extra.get("reused_from"))
        if strict and outcome.status != "completed":
            raise JobFailed(f"job {outcome.job_id} {outcome.status}: {outcome.error}", result)
        return result
