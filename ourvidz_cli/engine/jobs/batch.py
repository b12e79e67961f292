"""Running the queue: claim in the scheduler's order, render each job on the device while the previous
job's outputs are written on the writer thread (engine.jobs.writer), until the queue is empty (or, watching,
for ever)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ourvidz_cli.engine.jobs.attempt import Attempt
from ourvidz_cli.engine.jobs.options import RunOptions
from ourvidz_cli.engine.jobs.report import Outcome, Reporter
from ourvidz_cli.engine.jobs.writer import OutputWriter
from ourvidz_cli.errors import Interrupted
from ourvidz_cli.library import outputs
from ourvidz_cli.paths import outputs_dir
from ourvidz_cli.queue import FAILED, ClaimOrder, Job, JobQueue, Worker


class Runner(Protocol):
    """What the queue loop needs of the runner (engine.jobs.runner.Runner): its queue, identity and
    options, and the three stages of one job (begin, render, finish) with their guard."""

    home: Path
    queue: JobQueue
    worker: Worker
    lease_s: float
    options: RunOptions
    reporter: Reporter
    engine: Any  # an EngineHandle: resident() names the loaded models
    after_job: Callable[[Outcome], None] | None
    wait_idle: Callable[[float], None]

    def begin(self, job: Job) -> Attempt: ...
    def render(self, attempt: Attempt) -> None: ...
    def guard(self, attempt: Attempt, stage: Callable[[Attempt], None]) -> bool: ...
    def give_back(self, attempt: Attempt, reason: str) -> None: ...
    def finish(self, attempt: Attempt, rendered: bool) -> Outcome: ...


def run_queue(runner: Runner, max_jobs: int | None, watch: bool, poll_s: float) -> list[Outcome]:
    outputs.remove_partials(outputs_dir(runner.home), older_than_s=runner.lease_s)
    results: list[Outcome] = []

    def finished(outcome: Outcome) -> None:  # on this thread, in job order
        runner.reporter.job_finished(outcome)
        results.append(outcome)
        if runner.after_job is not None:
            runner.after_job(outcome)

    writer, write_queue = OutputWriter(finished), runner.queue.clone()
    try:
        _loop(runner, writer, write_queue, max_jobs, watch, poll_s)
        writer.close()
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after {len(results)} job(s); the job in progress is back in the queue"
        ) from None
    finally:
        _close_quietly(writer)
        write_queue.close()
    return results


def _loop(runner: Runner, writer: OutputWriter, write_queue: JobQueue, max_jobs: int | None, watch: bool,
          poll_s: float) -> None:
    since, claimed = time.time(), 0
    while max_jobs is None or claimed < max_jobs:
        for job_id, status in runner.queue.reap(runner.worker):
            runner.reporter.phase(f"job {job_id}: its worker was gone; now {status}")
            if status == FAILED and isinstance(job_id, int):  # nobody runs it again: its files go
                outputs.remove_unrecorded(runner.home, job_id)
        order = ClaimOrder(tuple(runner.engine.resident()), runner.options.max_wait_s, since, runner.options.order)
        job = runner.queue.claim(runner.worker, runner.lease_s, order)
        if job is None:
            writer.wait()  # the last job's files are written before idling or stopping
            if not watch:
                return
            runner.wait_idle(poll_s)
            continue
        claimed += 1
        _overlapped(runner, job, writer, write_queue)


def _overlapped(runner: Runner, job: Job, writer: OutputWriter, write_queue: JobQueue) -> None:
    attempt = runner.begin(job)
    rendered = runner.guard(attempt, runner.render)
    attempt.queue = write_queue
    try:
        writer.wait()  # the previous job's write, which may stop the run (a full disk)
    except BaseException:
        runner.give_back(attempt, "the run stopped before this job's outputs were written")
        attempt.settle_beat()
        raise
    writer.submit(lambda: runner.finish(attempt, rendered))


def _close_quietly(writer: OutputWriter) -> None:
    try:
        writer.close()
    except BaseException:  # noqa: BLE001  the run is already ending with the first error
        pass
