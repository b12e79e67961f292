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
from dataclasses import replace
from pathlib import Path
from typing import Any

from ourvidz_cli.api.assets import AssetsApi
from ourvidz_cli.api.events import Event, EventReporter
from ourvidz_cli.api.jobs import JobsApi
from ourvidz_cli.api.queue import QueueApi
from ourvidz_cli.api.result import JobFailed, Result, result_of

__all__ = ["JobFailed", "Result", "Studio"]

INPUTS = ("image", "strength", "mask", "invert_mask", "fit", "video", "first_frame", "last_frame", "ref_image")


class Studio:
    """A data home (default: OURVIDZ_HOME or the platform's data folder), its catalog and its ledger, and the
    settings every run of this Studio uses: the device, the memory budget, compiled models, Supabase sync."""

    def __init__(self, home: str | Path | None = None, smoke: bool = False, config: str | Path | None = None,
                 device: str | None = None, vram_budget: str | None = None, *, compile: bool = False,
                 sync: bool = False) -> None:
        from ourvidz_cli.api.runner import RunFlags
        from ourvidz_cli.app import App, Settings
        from ourvidz_cli.errors import UsageError
        from ourvidz_cli.paths import resolve_home

        if smoke and config:
            raise UsageError("smoke and config both pick a catalog; use one")
        self.app = App(Settings(home=resolve_home(str(home) if home else None),
                                config=Path(config) if config else None, smoke=smoke))
        self.flags = RunFlags(device=device, vram_budget=vram_budget, compile=compile, sync=sync)
        self.flags.check()
        self.queue, self.jobs, self.assets = QueueApi(self), JobsApi(self.app), AssetsApi(self.app)
        self._engine: Any = None

    @property
    def home(self) -> Path:
        """The data home: ledger, outputs, models."""
        return self.app.home

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the loaded models and close the ledger."""
        import sys

        manager = sys.modules.get("ourvidz_cli.engine.models.manager")  # nothing loaded: torch stays unimported
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
        invert_mask, fit, video, first_frame, last_frame, ref_image (a list). JobFailed if it fails."""
        spec = self.resolve(job_type, prompt, options)
        return self.run(spec, use_worker=use_worker, reuse=not force, on_progress=on_progress)

    def rerun(self, job_id: int, seed: int | None = None, *, exact: bool = False, use_worker: bool = True,
              on_progress: Callable[[Event], None] | None = None) -> Result:
        """A job again from its stored settings (the same seed unless `seed`): the same pixels. `exact`:
        deterministic GPU kernels, in this process (never a warm worker, whose kernels were chosen at its
        start)."""
        flags = replace(self.flags, exact=exact)
        flags.check()
        spec = self.app.rerun_spec(job_id, seed)
        return self._now(spec, use_worker and not exact, False, on_progress, True, flags)

    def enhance(self, prompt: str, target: str = "sdxl", *, use_cache: bool = True,
                on_progress: Callable[[Event], None] | None = None) -> Any:
        """Qwen's rewrite of `prompt` for `target` ("sdxl", "wan-image" or "wan-video"), as an enhanced job
        would generate with: `.output` the prompt, `.note` why the input was kept (a refusal, an empty
        answer), `.cached` answered from the ledger's cache."""
        from ourvidz_cli.prompts.enhancer import enhance_once

        app, reporter = self.app, EventReporter(on_progress)
        return enhance_once(app.catalog, app.ledger.enhancements, self.engine, prompt, target, use_cache=use_cache,
                            on_phase=reporter.phase)

    @property
    def engine(self) -> Any:
        """This Studio's handle on the shared engine: its `loads` and `evictions` count what its own calls
        caused. Nothing loads (and torch is not imported) until a model is needed."""
        if self._engine is None:
            self._engine = self.app.engine(self.flags.device, self.flags.vram_budget, self.flags.compile)
        return self._engine

    def resolve(self, job_type: str, prompt: str, options: dict[str, Any]) -> Any:
        """A job spec from the CLI's options (input files checked, then stored once the job resolved)."""
        images, given = self.inputs(options)
        spec = self.app.resolve(job_type, prompt, given)
        images.store(self.app.home)
        return spec

    def inputs(self, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The input files among `options`, checked (not yet stored), and the options a job resolves from."""
        from ourvidz_cli.api.inputs import ImageOptions, set_options

        options = dict(options)
        # ImageOptions names the repeatable --ref-image by what it holds: `refs`.
        images = ImageOptions(**{"refs" if k == "ref_image" else k: options.pop(k) for k in INPUTS if k in options})
        return images, {**set_options(options), **images.overrides()}

    def run(self, spec: Any, *, use_worker: bool = True, reuse: bool = True,
            on_progress: Callable[[Event], None] | None = None, strict: bool = True) -> Result:
        """Run a resolved job (from `resolve`) now: from an identical finished job's files (`reuse`), a warm
        worker (`use_worker`), or this process. With `strict`, a job that did not complete raises JobFailed."""
        return self._now(spec, use_worker, reuse, on_progress, strict, self.flags)

    def _now(self, spec: Any, use_worker: bool, reuse: bool, on_progress: Callable[[Event], None] | None,
             strict: bool, flags: Any) -> Result:
        from ourvidz_cli.api.run import outcome_now
        from ourvidz_cli.api.runner import Voice

        reporter = EventReporter(on_progress)
        extra: dict[str, Any] = {}
        outcome = outcome_now(self.app, spec, flags, extra, use_worker, reuse,
                              Voice(lambda: reporter, reporter.phase))
        return self.result(outcome, extra, strict)

    def result(self, outcome: Any, extra: dict[str, Any], strict: bool = True) -> Result:
        """A run's outcome as a Result; with `strict`, a failed or canceled job raises JobFailed."""
        return result_of(self.app, outcome, extra, strict)
