"""Runs jobs a queue hands out: enhance, load, generate, write outputs, record assets.

The runner owns a job from claim to its final status and knows the queue only through the
`JobQueue` protocol. It renews the job's lease from a heartbeat thread, stops at the next step when
the job is canceled, and on Ctrl-C or SIGTERM puts the job back in the queue before it lets the
interrupt through.
"""

from __future__ import annotations

import json
import secrets
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.fingerprint import at_run
from ourvidz_cli.catalog.job import JobConfig
from ourvidz_cli.catalog.resolve import JobSpec
from ourvidz_cli.catalog.revisions import commits_of, pin_config
from ourvidz_cli.engine.jobs import oom, writer
from ourvidz_cli.engine.jobs.attempt import Attempt
from ourvidz_cli.engine.jobs.heartbeat import Heartbeat, JobStopped, settle
from ourvidz_cli.engine.jobs.options import RunOptions
from ourvidz_cli.engine.jobs.prompt_stage import PromptStage
from ourvidz_cli.engine.jobs.report import Outcome, Reporter, SilentReporter
from ourvidz_cli.engine.models.handle import EngineHandle
from ourvidz_cli.errors import Interrupted, OurvidzError, as_disk_full
from ourvidz_cli.library import joblog, outputs
from ourvidz_cli.queue import CANCELED, COMPLETED, FAILED, QUEUED, Job, JobQueue, Worker, lease_seconds


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, OurvidzError) else f"{type(exc).__name__}: {text}"


class Runner:
    def __init__(self, queue: JobQueue, home: Path, worker: Worker, cache: Any, reporter: Reporter | None = None,
                 options: RunOptions | None = None, engine: EngineHandle | None = None) -> None:
        """`cache` is the enhancement cache (ledger.enhancements); `engine` a handle shared with the caller."""
        self.queue, self.home, self.worker, self.cache = queue, home, worker, cache
        self.reporter: Reporter = reporter or SilentReporter()
        self.options = options or RunOptions()
        o = self.options
        self.deterministic: dict[str, Any] | None = None
        if o.deterministic:
            from ourvidz_cli.engine.jobs.determinism import make_deterministic

            self.deterministic = make_deterministic()
        self.engine = engine or EngineHandle(o.device, o.vram_budget, o.compile, on_start=self.reporter.phase)
        self.lease_s = lease_seconds()
        self.prompts = PromptStage(self)
        self.after_job: Callable[[Outcome], None] | None = None  # e.g. push the finished job to Supabase
        self.wait_idle: Callable[[float], None] = time.sleep  # a warm worker wakes early when rung

    @property
    def batched_enhancements(self) -> int:
        return self.prompts.batched

    @property
    def model_loads(self) -> int:
        return self.engine.loads

    @property
    def evictions(self) -> int:
        return self.engine.evictions

    def log(self, job_id: int, text: str) -> None:
        joblog.append(self.home, job_id, text)

    # -- one job -------------------------------------------------------------------------------

    def run(self, job: Job) -> Outcome:
        """Run a job this worker already holds, to completed, failed, canceled or back to queued."""
        attempt = self.begin(job)
        rendered = self.guard(attempt, self.render)
        if rendered:
            self.reporter.phase("writing outputs")
        outcome = self.finish(attempt, rendered)
        self.reporter.job_finished(outcome)
        return outcome

    def begin(self, job: Job) -> Attempt:
        # Hugging Face sources load at the commit the cache resolves now (or the one a rerun names),
        # and the job records which: see catalog.revisions.
        job = {**job, "config": pin_config(job["config"])}
        job_id, config = job["id"], job["config"]
        refiled = at_run(job, config)
        if refiled is not None and refiled != job["fingerprint"]:  # `models pull` since it was queued
            self.queue.record(job_id, self.worker, fingerprint=refiled)
        self.reporter.job_started(job)
        self.log(job_id, f"attempt {job['attempts']} by {self.worker.id}: {job['type']} "
                          f"{json.dumps(config.to_dict())}")
        if self.deterministic is not None:
            self.log(job_id, f"deterministic kernels: {json.dumps(self.deterministic)}")
        beat = Heartbeat(self.queue, job_id, self.worker, self.lease_s, on_problem=lambda t: self._warn(job_id, t))
        beat.start()
        return Attempt(job, beat, Outcome(job_id, job["type"], FAILED, smoke=config.smoke), self.queue)

    def finish(self, attempt: Attempt, rendered: bool) -> Outcome:
        """Write the outputs of a rendered job and settle it (on the writer thread when overlapped)."""
        try:
            if rendered:
                self.guard(attempt, self._write)
        finally:
            attempt.settle_beat()
        return attempt.outcome

    def guard(self, attempt: Attempt, stage: Callable[[Attempt], None]) -> bool:
        """Run a stage; a failure is recorded on the job (False), an interrupt puts the job back."""
        job_id, queue, beat = attempt.job["id"], attempt.queue, attempt.beat
        try:
            stage(attempt)
            return True
        except JobStopped as stop:
            self._stopped(attempt, stop)
        except KeyboardInterrupt:
            queue.release(job_id, self.worker, "interrupted (Ctrl-C or SIGTERM); back in the queue")
            self.log(job_id, "interrupted; released back to the queue")
            attempt.settle_beat()
            raise
        except Exception as exc:  # noqa: BLE001  any failure of the job is recorded on it, not raised
            full = as_disk_full(exc, self.home)
            if full is not None:  # not the job's fault, and the next job would fail too: stop the run
                self.give_back(attempt, str(full))
                attempt.settle_beat()
                raise full from None
            self.log(job_id, "failed:\n" + "".join(traceback.format_exception(exc)))
            if beat.lost.is_set():  # the ledger refused this job's writes as well as its renewals
                self._stopped(attempt, JobStopped(False, beat.lost_reason))
            else:
                attempt.outcome.error = _one_line(exc)
                settle(lambda: queue.fail(job_id, self.worker, attempt.outcome.error or ""), self.lease_s)
        return False

    def _warn(self, job_id: int, text: str) -> None:
        self.reporter.phase(f"job {job_id}: {text}")
        try:
            self.log(job_id, text)
        except OSError:  # the disk that broke the ledger may refuse the log too; the console has it
            pass

    def give_back(self, attempt: Attempt, reason: str) -> None:
        """Back to the queue, if the ledger still takes the write; if not, the next run reaps it."""
        try:
            released = attempt.queue.release(attempt.job["id"], self.worker, reason)
        except Exception:  # noqa: BLE001
            released = False
        where = "back in the queue" if released else "requeued by the next queue run"
        self._warn(attempt.job["id"], f"{reason}; job {where}")

    def _stopped(self, attempt: Attempt, stop: JobStopped) -> None:
        job_id, queue, outcome = attempt.job["id"], attempt.queue, attempt.outcome
        if stop.canceled:
            queue.finish_canceled(job_id, self.worker)
            outcome.status, outcome.error = CANCELED, "canceled while running"
        else:
            error = f"stopped: {stop.reason or 'lease lost'}"
            if settle(lambda: queue.fail(job_id, self.worker, error), self.lease_s):
                outcome.status, outcome.error = FAILED, error
            else:
                outcome.status, outcome.error = QUEUED, f"{error}; another worker holds it now and will finish it"
        self._warn(job_id, outcome.error)

    def render(self, attempt: Attempt) -> None:
        """Enhance, load and generate, measuring the device's peak memory; the pixels stay in `attempt`."""
        from ourvidz_cli.engine.models.memory import PeakMemory

        job_id = attempt.job["id"]
        device = self.engine.engine.device
        peak = PeakMemory(device)
        try:
            with peak, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    attempt.prompt, attempt.result = self._stages(attempt)
                finally:
                    for w in caught:
                        self.log(job_id, f"warning: {w.category.__name__}: {w.message}")
        finally:
            attempt.measures = {"device": device, "peak_mem_mb": peak.mb, "mem_kind": peak.kind, **attempt.timings}
            self.log(job_id, "measures: " + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in attempt.measures.items()))

    def _write(self, attempt: Attempt) -> None:
        """Files first, made durable; only then the job completed with their asset rows."""
        job, queue = attempt.job, attempt.queue
        writer.fault_delay()
        attempt.beat.check()
        stage = secrets.token_hex(4)  # this attempt's own file names until it wins the fence
        assets = outputs.write_assets(self.home, job, attempt.prompt, attempt.result, stage)
        attempt.result = None  # on disk now: the pixels need not wait in memory for the next job
        if not assets:
            kind = "video" if job["config"].is_video else "image"
            raise OurvidzError(f"the model returned no {kind}; nothing was written")
        try:
            completed = queue.complete(job["id"], self.worker, assets,
                                       lambda: outputs.promote(self.home, assets, stage), **attempt.measures)
        finally:
            outputs.remove_assets(self.home, assets, stage)  # what was not promoted: never another attempt's
        if not completed:
            raise JobStopped(canceled=False)
        attempt.outcome.status = COMPLETED
        attempt.outcome.outputs = [str(self.home / a["path"]) for a in assets]
        self.log(job["id"], f"completed: {len(assets)} output(s)")

    def _stages(self, attempt: Attempt) -> tuple[str, Any]:
        """Enhance, load, generate; each stage's seconds go into `attempt.timings` as it ends."""
        from ourvidz_cli.engine.families.request import GenRequest

        job, beat, timings = attempt.job, attempt.beat, attempt.timings
        job_id, config = job["id"], job["config"]
        prompt, load_s = self.prompts.prompt(job, beat, timings, attempt.outcome)
        model = config.model
        self.reporter.phase(f"loading {model.name}" + (f" and {config.vace.name}" if config.vace else ""))
        pipe, companion, seconds = self.engine.job_models(config)
        mode = self.engine.engine.mode(model)
        if mode not in (None, "full"):
            self.log(job_id, f"model {model.name} placed as {mode} to fit the memory budget")
        timings["load_s"] = load_s = load_s + seconds
        timings["model_load_s"] = seconds
        commits = commits_of(pin_config(config))  # pinned again: a source fetched by this load is cached now
        self.queue.record(job_id, self.worker, load_s=load_s, model_load_s=seconds,
                          revisions=json.dumps(commits, sort_keys=True) if commits else None)
        beat.check()

        def on_step(done: int, total: int) -> None:
            if done == 1:
                oom.maybe_out_of_memory()  # a forced fault surfaces mid-pipeline, where a real one would
            beat.check()
            self.reporter.step(done, total)

        self.reporter.phase(f"generating on {self.engine.engine.device}")
        t0 = time.perf_counter()
        request = replace(GenRequest.from_config(prompt, config, self.home), companion=companion)
        result = self._generate_or_fall_back(job_id, config, pipe, request, on_step)
        timings["generate_s"] = time.perf_counter() - t0
        for note in result.notes:
            self.log(job_id, note)
        beat.check()
        return prompt, result

    def _generate_or_fall_back(self, job_id: int, config: JobConfig, pipe: Any, request: Any, on_step: Any) -> Any:
        def fell_back(note: str) -> None:
            self.log(job_id, note)
            self.reporter.phase(note)
            self.queue.record(job_id, self.worker, fallback=note)

        family = self.engine.family(config.model.kind)
        return oom.generate_with_fallback(self.engine.engine, family, config.model, pipe,
                                          lambda: family.generate(pipe, request, on_step), fell_back,
                                          (config.vace,) if config.vace else ())

    # -- many jobs ------------------------------------------------------------------------------

    def generate_now(self, spec: JobSpec) -> Outcome:
        return self.run_one(self.queue.add_running(spec, self.worker, self.lease_s))

    def run_one(self, job: Job) -> Outcome:
        """Run one held job for a user waiting on it; Ctrl-C puts it back in the queue and says so."""
        try:
            outcome = self.run(job)
            if self.after_job is not None:
                self.after_job(outcome)
            return outcome
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted: job {job['id']} is back in the queue; 'ourvidz queue run' finishes it, "
                f"'ourvidz queue cancel {job['id']}' drops it"
            ) from None

    def run_queue(self, max_jobs: int | None = None, watch: bool = False, poll_s: float = 2.0) -> list[Outcome]:
        """Claim and run jobs until the queue is empty (`watch`: for ever), writing each job's outputs
        while the next one renders (engine.jobs.batch)."""
        from ourvidz_cli.engine.jobs import batch

        return batch.run_queue(self, max_jobs, watch, poll_s)
