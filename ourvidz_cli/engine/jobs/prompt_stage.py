"""The prompt a job generates with: as given, kept from an earlier attempt or the job it reruns, or
written by the enhancer (Qwen), which, while it is loaded, also answers the queued prompts that will
need it."""

from __future__ import annotations

import time
from typing import Any, Protocol

from ourvidz_cli.engine.jobs.heartbeat import Heartbeat
from ourvidz_cli.engine.jobs.options import RunOptions
from ourvidz_cli.engine.jobs.report import Outcome, Reporter
from ourvidz_cli.queue import Job, JobQueue, Worker


class Runner(Protocol):
    """What the prompt stage needs of the runner (engine.jobs.runner.Runner) that owns it."""

    queue: JobQueue
    worker: Worker
    cache: Any  # the enhancement cache (ledger.enhancements)
    engine: Any  # the EngineHandle Qwen loads through
    options: RunOptions
    reporter: Reporter

    def log(self, job_id: int, text: str) -> None: ...


class PromptStage:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.batched = 0  # queued prompts answered in a batch while Qwen was loaded

    def _enhance(self, job: Job, beat: Heartbeat, timings: dict[str, float]) -> tuple[str, float]:
        """The prompt to generate with, and the seconds spent loading the enhancer."""
        from ourvidz_cli.prompts.enhancer import Enhancer

        job_id, config, runner = job["id"], job["config"], self.runner
        enhancer = Enhancer(runner.cache, runner.engine)
        result = enhancer.enhance(config.enhancer, config.enhance, job["prompt"], on_phase=runner.reporter.phase)
        if not result.cached:
            self._batch(enhancer, job_id, beat)
        timings["enhance_s"] = result.seconds
        beat.check()
        runner.queue.record(job_id, runner.worker, enhanced_prompt=result.output, enhance_note=result.note,
                            enhance_s=result.seconds, enhance_cached=int(result.cached))
        runner.log(job_id, f"enhanced prompt ({config.enhance.target}{', from cache' if result.cached else ''}): "
                           f"{result.output!r}" + (f" ({result.note})" if result.note else ""))
        if result.raw is not None:
            runner.log(job_id, f"enhancer's raw answer: {result.raw!r}")
        return result.output, result.load_s

    def prompt(self, job: Job, beat: Heartbeat, timings: dict[str, float], outcome: Outcome) -> tuple[str, float]:
        """The prompt to generate with (enhanced when the job asks for it), and seconds spent loading Qwen."""
        config = job["config"]
        if config.enhancer is None or config.enhance is None:
            return job["prompt"], 0.0
        if job.get("enhanced_prompt"):  # a rerun, or an attempt after one that already asked Qwen
            origin = f"job {job['rerun_of']}" if job.get("rerun_of") else "an earlier attempt"
            self.runner.log(job["id"], f"enhanced prompt kept from {origin}: {job['enhanced_prompt']!r}")
            outcome.enhanced_prompt = job["enhanced_prompt"]
            return job["enhanced_prompt"], 0.0
        prompt, load_s = self._enhance(job, beat, timings)
        outcome.enhanced_prompt = prompt
        return prompt, load_s

    def _batch(self, enhancer: Any, current: int, beat: Heartbeat) -> None:
        """While Qwen is loaded, enhance every queued prompt that will need it, so those jobs find their
        answer in the cache and Qwen is not loaded again after the generation models evict it."""
        # `current`'s own answer is in the cache by now, so it is not among the pending.
        pending = self.runner.queue.pending_enhancements(self.runner.options.enhance_batch)
        deadline = time.monotonic() + self.runner.options.enhance_batch_s
        for n, job in enumerate(pending, 1):
            beat.check()
            if time.monotonic() > deadline:
                self.runner.log(current, f"enhancement batch stopped after {n - 1} prompt(s): time cap reached")
                return
            cfg = job["config"]
            self.runner.reporter.phase(
                f"enhancing queued prompt {n}/{len(pending)} (job {job['id']}) while Qwen is loaded")
            enhancer.enhance(cfg.enhancer, cfg.enhance, job["prompt"])
            self.batched += 1
