"""Runs jobs the ledger hands out: enhance, generate, write outputs, record assets.

The runner owns a job from claim to its final status. It renews the job's lease from a
heartbeat thread, stops at the next step when the job is canceled, and on Ctrl-C or SIGTERM
puts the job back in the queue before it lets the interrupt through.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from ourvidz_cli import __version__, a1111, faults, outputs
from ourvidz_cli.catalog import JobSpec
from ourvidz_cli.errors import Interrupted, OurvidzError
from ourvidz_cli.ledger import CANCELED, COMPLETED, FAILED, QUEUED, Ledger
from ourvidz_cli.paths import logs_dir, outputs_dir
from ourvidz_cli.worker import Worker, lease_seconds


class Reporter(Protocol):
    def job_started(self, job: dict[str, Any]) -> None: ...
    def phase(self, text: str) -> None: ...
    def step(self, done: int, total: int) -> None: ...
    def job_finished(self, outcome: Outcome) -> None: ...


class SilentReporter:
    def job_started(self, job: dict[str, Any]) -> None: ...
    def phase(self, text: str) -> None: ...
    def step(self, done: int, total: int) -> None: ...
    def job_finished(self, outcome: Outcome) -> None: ...


@dataclass
class Outcome:
    job_id: int
    job_type: str
    status: str
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    enhanced_prompt: str | None = None
    smoke: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "type": self.job_type,
            "status": self.status,
            "outputs": self.outputs,
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
            "enhanced_prompt": self.enhanced_prompt,
            "smoke": self.smoke,
        }


class JobStopped(Exception):
    """Raised from the step callback when the job was canceled or its lease was lost."""

    def __init__(self, canceled: bool) -> None:
        super().__init__("canceled" if canceled else "lease lost")
        self.canceled = canceled


class Heartbeat(threading.Thread):
    """Renews the lease on its own connection; notices cancel requests and lost leases."""

    def __init__(self, ledger_path: Path, job_id: int, worker: Worker, lease_s: float) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.ledger_path, self.job_id, self.worker, self.lease_s = ledger_path, job_id, worker, lease_s
        self.stopping = threading.Event()
        self.canceled = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        ledger = Ledger(self.ledger_path)
        try:
            while not self.stopping.wait(self.lease_s / 4):
                try:
                    state = ledger.renew(self.job_id, self.worker, self.lease_s)
                except Exception:  # noqa: BLE001  a busy ledger: try again next beat, the lease has slack
                    continue
                if state is None:
                    self.lost.set()
                    return
                if state:
                    self.canceled.set()
        finally:
            ledger.close()

    def check(self) -> None:
        if self.lost.is_set():
            raise JobStopped(canceled=False)
        if self.canceled.is_set():
            raise JobStopped(canceled=True)


def legacy_enhance_spec(config: dict[str, Any]) -> dict[str, Any]:
    """Jobs stored before targets existed carried only a system prompt."""
    return {"target": "legacy", "system": config["enhance_system"], "token_limit": None, "tokenizer": None,
            "max_new_tokens": config["enhancer"]["max_new_tokens"]}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, OurvidzError) else f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class RunOptions:
    device: str | None = None
    vram_budget: str | None = None  # "20GB"; default: the device's memory minus headroom
    order: str = "smart"  # or "fifo"
    max_wait_s: float = 1800.0  # a job queued longer than this runs next, whatever else is waiting
    compile: bool = False


class Runner:
    def __init__(self, ledger: Ledger, home: Path, worker: Worker, reporter: Reporter | None = None,
                 device: str | None = None, options: RunOptions | None = None) -> None:
        self.ledger, self.home, self.worker = ledger, home, worker
        self.reporter: Reporter = reporter or SilentReporter()
        self.options = options or RunOptions(device=device)
        self.device = device or self.options.device
        self.lease_s = lease_seconds()
        self._engine: Any = None
        self.model_loads = 0  # loads this runner caused; the engine may be shared and already warm
        self.evictions = 0
        self.batched_enhancements = 0
        self.after_job: Callable[[Outcome], None] | None = None  # e.g. push the finished job to Supabase

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self.reporter.phase("starting torch")
            from ourvidz_cli.pipelines.engine import shared_engine

            self._engine = shared_engine(self.device, self.options.vram_budget)
            self._engine.compile = self.options.compile
        return self._engine

    def _load(self, model_cfg: dict[str, Any]) -> tuple[Any, float]:
        loads, evictions = self.engine.loads, self.engine.evictions
        loaded, seconds = self.engine.get(model_cfg)
        self.model_loads += self.engine.loads - loads
        self.evictions += self.engine.evictions - evictions
        return loaded, seconds

    def resident(self) -> list[str]:
        return self._engine.resident_sources() if self._engine is not None else []

    def _log(self, job_id: int, text: str) -> None:
        folder = logs_dir(self.home)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{job_id}.log", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")

    # -- one job -------------------------------------------------------------------------------

    def run(self, job: dict[str, Any]) -> Outcome:
        """Run a job this worker already holds, to completed, failed, canceled or back to queued."""
        job_id, config = job["id"], job["config"]
        self.reporter.job_started(job)
        self._log(job_id, f"attempt {job['attempts']} by {self.worker.id}: {job['type']} {json.dumps(config)}")
        beat = Heartbeat(self.ledger.path, job_id, self.worker, self.lease_s)
        beat.start()
        started = time.perf_counter()
        outcome = Outcome(job_id, job["type"], FAILED, smoke=bool(config.get("smoke")))
        try:
            self._generate(job, beat, outcome)
        except JobStopped as stop:
            if stop.canceled:
                self.ledger.finish_canceled(job_id, self.worker)
                outcome.status, outcome.error = CANCELED, "canceled while running"
            else:
                outcome.status, outcome.error = QUEUED, "lease lost to another worker; it will finish the job"
            self._log(job_id, outcome.error)
        except KeyboardInterrupt:
            self.ledger.release(job_id, self.worker, "interrupted (Ctrl-C or SIGTERM); back in the queue")
            self._log(job_id, "interrupted; released back to the queue")
            raise
        except Exception as exc:  # noqa: BLE001  any failure of the job is recorded on it, not raised
            outcome.error = _one_line(exc)
            self.ledger.fail(job_id, self.worker, outcome.error)
            self._log(job_id, "failed:\n" + "".join(traceback.format_exception(exc)))
        finally:
            beat.stopping.set()
            beat.join(timeout=5)
            outcome.duration_s = time.perf_counter() - started
        self.reporter.job_finished(outcome)
        return outcome

    def _generate(self, job: dict[str, Any], beat: Heartbeat, outcome: Outcome) -> None:
        from ourvidz_cli.pipelines.memory import PeakMemory

        job_id = job["id"]
        engine = self.engine
        peak = PeakMemory(engine.device)
        timings: dict[str, float] = {}
        try:
            with peak, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                try:
                    assets = self._stages(job, beat, outcome, timings)
                finally:
                    for w in caught:
                        self._log(job_id, f"warning: {w.category.__name__}: {w.message}")
        finally:
            measures = {"device": engine.device, "peak_mem_mb": peak.mb, "mem_kind": peak.kind, **timings}
            self._log(job_id, "measures: " + ", ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in measures.items()))
        if not self.ledger.complete(job_id, self.worker, assets, **measures):
            raise JobStopped(canceled=False)
        outcome.status = COMPLETED
        outcome.outputs = [str(self.home / a["path"]) for a in assets]
        self._log(job_id, f"completed: {len(assets)} output(s)")

    def _stages(self, job: dict[str, Any], beat: Heartbeat, outcome: Outcome,
                timings: dict[str, float]) -> list[dict[str, Any]]:
        """Enhance, load, generate, write; each stage's seconds go into `timings` as it ends."""
        from ourvidz_cli.pipelines.request import GenRequest

        job_id, config = job["id"], job["config"]
        prompt = job["prompt"]
        load_s = 0.0
        engine = self.engine
        if config.get("enhancer"):
            from ourvidz_cli.enhancer import Enhancer

            spec = config.get("enhance") or legacy_enhance_spec(config)
            enhancer = Enhancer(self.ledger, self._load, engine.family)
            result = enhancer.enhance(config["enhancer"], spec, prompt, on_phase=self.reporter.phase)
            if not result.cached:
                self._batch_enhance(enhancer, job_id, beat)
            load_s += result.load_s
            timings["enhance_s"] = result.seconds
            beat.check()
            self.ledger.record(job_id, self.worker, enhanced_prompt=result.output, enhance_note=result.note,
                               enhance_s=result.seconds, enhance_cached=int(result.cached))
            self._log(job_id, f"enhanced prompt ({spec['target']}{', from cache' if result.cached else ''}): "
                              f"{result.output!r}" + (f" ({result.note})" if result.note else ""))
            if result.raw is not None:
                self._log(job_id, f"enhancer's raw answer: {result.raw!r}")
            outcome.enhanced_prompt = prompt = result.output

        model_cfg = config["model"]
        self.reporter.phase(f"loading {model_cfg['name']}")
        pipe, seconds = self._load(model_cfg)
        if engine.mode(model_cfg) not in (None, "full"):
            self._log(job_id, f"model {model_cfg['name']} placed as {engine.mode(model_cfg)} to fit the memory budget")
        timings["load_s"] = load_s = load_s + seconds
        self.ledger.record(job_id, self.worker, load_s=load_s)
        beat.check()

        def on_step(done: int, total: int) -> None:
            beat.check()
            self.reporter.step(done, total)

        self.reporter.phase(f"generating on {engine.device}")
        family = engine.family(model_cfg["kind"])
        request = GenRequest.from_config(prompt, config)
        t0 = time.perf_counter()
        result = self._generate_or_fall_back(job_id, family, pipe, request, on_step, model_cfg)
        timings["generate_s"] = time.perf_counter() - t0
        beat.check()
        self.reporter.phase("writing outputs")
        return self._write(job, prompt, result)

    def _generate_or_fall_back(self, job_id: int, family: Any, pipe: Any, request: Any, on_step: Any,
                               model_cfg: dict[str, Any]) -> Any:
        """Generate; out of memory once, free it, switch the pipeline to offload and tiling, and retry."""
        from ourvidz_cli.pipelines.adapters import low_memory
        from ourvidz_cli.pipelines.engine import free_device_memory

        engine = self.engine
        try:
            faults.maybe_out_of_memory()
            return family.generate(pipe, request, on_step)
        except Exception as exc:  # noqa: BLE001  only out-of-memory is handled; the rest re-raises
            if not faults.is_out_of_memory(exc):
                raise
        free_device_memory(engine.device)  # outside the except: the traceback no longer pins the tensors
        switched = low_memory(pipe, engine.device)
        fallback = "out of memory; retried with " + (", ".join(switched) or "nothing left to switch")
        self._log(job_id, fallback)
        self.reporter.phase(fallback)
        self.ledger.record(job_id, self.worker, fallback=fallback)
        engine.drop(model_cfg)  # offload hooks stay on the pipeline: the next job loads the model afresh
        try:
            faults.maybe_out_of_memory()
            return family.generate(pipe, request, on_step)
        except Exception as again:  # noqa: BLE001
            if faults.is_out_of_memory(again):
                raise OurvidzError(
                    f"out of memory on {engine.device} even with {', '.join(switched) or 'no fallback'}: try a "
                    "smaller --size, fewer --frames or --count, or a lower --vram-budget for other models"
                ) from None
            raise

    def _batch_enhance(self, enhancer: Any, current: int, beat: Heartbeat) -> None:
        """While Qwen is loaded, enhance every queued prompt that will need it, so those jobs find their
        answer in the cache and Qwen is not loaded again after the generation models evict it."""
        pending = [j for j in self.ledger.pending_enhancements() if j["id"] != current]
        for n, job in enumerate(pending, 1):
            beat.check()
            cfg = job["config"]
            self.reporter.phase(f"enhancing queued prompt {n}/{len(pending)} (job {job['id']}) while Qwen is loaded")
            enhancer.enhance(cfg["enhancer"], cfg.get("enhance") or legacy_enhance_spec(cfg), job["prompt"])
            self.batched_enhancements += 1

    def _write(self, job: dict[str, Any], prompt: str, result: Any) -> list[dict[str, Any]]:
        job_id, config = job["id"], job["config"]
        record = {
            "job_id": job_id,
            "uuid": job["uuid"],
            "type": job["type"],
            "prompt": job["prompt"],
            "enhanced_prompt": prompt if prompt != job["prompt"] else None,
            "negative_prompt": config["negative"],
            "config": config,
        }
        assets = []
        items = result.images if config["output"] == "png" else result.videos
        for idx, item in enumerate(items):
            path = outputs.output_path(self.home, config["bucket"], job_id, idx, config["output"])
            if config["output"] == "png":
                outputs.write_png(path, item, {
                    "parameters": a1111.format_parameters(prompt, config["negative"], {
                        "Steps": config["steps"], "Sampler": a1111.sampler_name(result.sampler),
                        "CFG scale": config["guidance"], "Seed": config["seed"],
                        "Size": f"{config['width']}x{config['height']}", "Model": config["model"]["name"],
                        "Job type": job["type"], "Version": f"ourvidz {__version__}",
                    }),
                    "ourvidz": json.dumps(record | {"index": idx}, sort_keys=True),
                })
                width, height, frames, fps = item.width, item.height, 1, None
            else:
                outputs.write_mp4(path, item, config["fps"], {
                    "title": prompt[:500],
                    "comment": f"ourvidz job {job_id} ({job['type']}, seed {config['seed']})",
                })
                frames, height, width = item.shape[0], item.shape[1], item.shape[2]
                fps = config["fps"]
            digest, size = outputs.sha256_and_size(path)
            assets.append({
                "idx": idx,
                "bucket": config["bucket"],
                "path": str(path.relative_to(self.home)),
                "kind": "image" if config["output"] == "png" else "video",
                "mime": config["mime"],
                "bytes": size,
                "sha256": digest,
                "width": width,
                "height": height,
                "frames": frames,
                "fps": fps,
            })
        return assets

    # -- many jobs ------------------------------------------------------------------------------

    def generate_now(self, spec: JobSpec) -> Outcome:
        job = self.ledger.add_running(spec, self.worker, self.lease_s)
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
        outputs.remove_partials(outputs_dir(self.home))
        results: list[Outcome] = []
        try:
            while max_jobs is None or len(results) < max_jobs:
                for job_id, status in self.ledger.reap(self.worker):
                    self.reporter.phase(f"job {job_id}: its worker was gone; now {status}")
                job = self.ledger.claim(self.worker, self.lease_s, resident=self.resident(),
                                        max_wait_s=self.options.max_wait_s, order=self.options.order)
                if job is None:
                    if not watch:
                        break
                    time.sleep(poll_s)
                    continue
                results.append(self.run(job))
                if self.after_job is not None:
                    self.after_job(results[-1])
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted after {len(results)} job(s); the job in progress is back in the queue"
            ) from None
        return results


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
