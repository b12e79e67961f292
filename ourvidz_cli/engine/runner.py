"""Runs jobs a queue hands out: enhance, load, generate, write outputs, record assets.

The runner owns a job from claim to its final status and knows the queue only through the
`JobQueue` protocol. It renews the job's lease from a heartbeat thread, stops at the next step when
the job is canceled, and on Ctrl-C or SIGTERM puts the job back in the queue before it lets the
interrupt through.
"""

from __future__ import annotations

import json
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import JobConfig
from ourvidz_cli.catalog.resolve import JobSpec
from ourvidz_cli.catalog.revisions import commits_of, pin_config
from ourvidz_cli.engine import oom
from ourvidz_cli.engine.handle import EngineHandle
from ourvidz_cli.engine.heartbeat import Heartbeat, JobStopped, settle
from ourvidz_cli.engine.prompt_stage import PromptStage
from ourvidz_cli.engine.report import Outcome, Reporter, SilentReporter
from ourvidz_cli.errors import Interrupted, OurvidzError, as_disk_full
from ourvidz_cli.library import joblog, outputs
from ourvidz_cli.paths import outputs_dir
from ourvidz_cli.queue import CANCELED, COMPLETED, FAILED, QUEUED, ClaimOrder, Job, JobQueue, Worker, lease_seconds


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, OurvidzError) else f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class RunOptions:
    device: str | None = None
    vram_budget: str | None = None  # "20GB"; default: the device's memory minus headroom
    order: str = "smart"  # or "fifo"
    max_wait_s: float = 1800.0  # a job kept waiting behind other work this long runs next
    compile: bool = False
    # Qwen's batch while it is loaded: bounded, or the first output of a big backlog waits for every
    # answer (about 15 s each at the seed's figures). The rest are enhanced when Qwen next loads.
    enhance_batch: int = 32
    enhance_batch_s: float = 120.0
    deterministic: bool = False  # `rerun --exact`: engine.determinism's settings before anything loads


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
            from ourvidz_cli.engine.determinism import make_deterministic

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
        # Hugging Face sources load at the commit the cache resolves now (or the one a rerun names),
        # and the job records which: see catalog.revisions.
        job = {**job, "config": pin_config(job["config"])}
        job_id, config = job["id"], job["config"]
        self.reporter.job_started(job)
        self.log(job_id, f"attempt {job['attempts']} by {self.worker.id}: {job['type']} "
                          f"{json.dumps(config.to_dict())}")
        if self.deterministic is not None:
            self.log(job_id, f"deterministic kernels: {json.dumps(self.deterministic)}")
        beat = Heartbeat(self.queue, job_id, self.worker, self.lease_s, on_problem=lambda t: self._warn(job_id, t))
        beat.start()
        started = time.perf_counter()
        outcome = Outcome(job_id, job["type"], FAILED, smoke=config.smoke)
        try:
            self._generate(job, beat, outcome)
        except JobStopped as stop:
            self._stopped(job_id, stop, outcome)
        except KeyboardInterrupt:
            self.queue.release(job_id, self.worker, "interrupted (Ctrl-C or SIGTERM); back in the queue")
            self.log(job_id, "interrupted; released back to the queue")
            raise
        except Exception as exc:  # noqa: BLE001  any failure of the job is recorded on it, not raised
            full = as_disk_full(exc, self.home)
            if full is not None:  # not the job's fault, and the next job would fail too: stop the run
                self._give_back(job_id, str(full))
                raise full from None
            self.log(job_id, "failed:\n" + "".join(traceback.format_exception(exc)))
            if beat.lost.is_set():  # the ledger refused this job's writes as well as its renewals
                self._stopped(job_id, JobStopped(False, beat.lost_reason), outcome)
            else:
                outcome.error = _one_line(exc)
                settle(lambda: self.queue.fail(job_id, self.worker, outcome.error or ""), self.lease_s)
        finally:
            beat.stopping.set()
            beat.join(timeout=5)
            outcome.duration_s = time.perf_counter() - started
        self.reporter.job_finished(outcome)
        return outcome

    def _warn(self, job_id: int, text: str) -> None:
        self.reporter.phase(f"job {job_id}: {text}")
        try:
            self.log(job_id, text)
        except OSError:  # the disk that broke the ledger may refuse the log too; the console has it
            pass

    def _give_back(self, job_id: int, reason: str) -> None:
        """Back to the queue, if the ledger still takes the write; if not, the next run reaps it."""
        try:
            released = self.queue.release(job_id, self.worker, reason)
        except Exception:  # noqa: BLE001
            released = False
        self._warn(job_id, f"{reason}; job {'back in the queue' if released else 'requeued by the next queue run'}")

    def _stopped(self, job_id: int, stop: JobStopped, outcome: Outcome) -> None:
        if stop.canceled:
            self.queue.finish_canceled(job_id, self.worker)
            outcome.status, outcome.error = CANCELED, "canceled while running"
        else:
            error = f"stopped: {stop.reason or 'lease lost'}"
            if settle(lambda: self.queue.fail(job_id, self.worker, error), self.lease_s):
                outcome.status, outcome.error = FAILED, error
            else:
                outcome.status, outcome.error = QUEUED, f"{error}; another worker holds it now and will finish it"
        self._warn(job_id, outcome.error)

    def _generate(self, job: Job, beat: Heartbeat, outcome: Outcome) -> None:
        from ourvidz_cli.engine.memory import PeakMemory

        job_id = job["id"]
        device = self.engine.engine.device
        peak = PeakMemory(device)
        timings: dict[str, float] = {}
        try:
            with peak, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    assets = self._stages(job, beat, outcome, timings)
                finally:
                    for w in caught:
                        self.log(job_id, f"warning: {w.category.__name__}: {w.message}")
        finally:
            measures = {"device": device, "peak_mem_mb": peak.mb, "mem_kind": peak.kind, **timings}
            self.log(job_id, "measures: " + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in measures.items()))
        try:
            completed = self.queue.complete(job_id, self.worker, assets, **measures)
        except BaseException:
            outputs.remove_assets(self.home, assets)  # files with no asset rows would be orphans
            raise
        if not completed:
            raise JobStopped(canceled=False)
        outcome.status = COMPLETED
        outcome.outputs = [str(self.home / a["path"]) for a in assets]
        self.log(job_id, f"completed: {len(assets)} output(s)")

    def _stages(self, job: Job, beat: Heartbeat, outcome: Outcome, timings: dict[str, float]) -> list[dict[str, Any]]:
        """Enhance, load, generate, write; each stage's seconds go into `timings` as it ends."""
        from ourvidz_cli.engine.families.request import GenRequest

        job_id, config = job["id"], job["config"]
        prompt, load_s = self.prompts.prompt(job, beat, timings, outcome)
        model = config.model
        self.reporter.phase(f"loading {model.name}")
        pipe, seconds = self.engine.get(model)
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
        result = self._generate_or_fall_back(job_id, config, pipe, GenRequest.from_config(prompt, config), on_step)
        timings["generate_s"] = time.perf_counter() - t0
        beat.check()
        self.reporter.phase("writing outputs")
        assets = outputs.write_assets(self.home, job, prompt, result)
        if not assets:
            raise OurvidzError(f"the model returned no {'video' if config.is_video else 'image'}; nothing was written")
        return assets

    def _generate_or_fall_back(self, job_id: int, config: JobConfig, pipe: Any, request: Any, on_step: Any) -> Any:
        def fell_back(note: str) -> None:
            self.log(job_id, note)
            self.reporter.phase(note)
            self.queue.record(job_id, self.worker, fallback=note)

        family = self.engine.family(config.model.kind)
        return oom.generate_with_fallback(self.engine.engine, family, config.model, pipe,
                                          lambda: family.generate(pipe, request, on_step), fell_back)

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
        outputs.remove_partials(outputs_dir(self.home), older_than_s=self.lease_s)
        results: list[Outcome] = []
        since = time.time()
        try:
            while max_jobs is None or len(results) < max_jobs:
                for job_id, status in self.queue.reap(self.worker):
                    self.reporter.phase(f"job {job_id}: its worker was gone; now {status}")
                order = ClaimOrder(tuple(self.engine.resident()), self.options.max_wait_s, since,
                                   self.options.order)
                job = self.queue.claim(self.worker, self.lease_s, order)
                if job is None:
                    if not watch:
                        break
                    self.wait_idle(poll_s)
                    continue
                results.append(self.run(job))
                if self.after_job is not None:
                    self.after_job(results[-1])
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted after {len(results)} job(s); the job in progress is back in the queue"
            ) from None
        return results
