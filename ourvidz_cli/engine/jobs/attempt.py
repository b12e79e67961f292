"""One attempt at a job, as the render hands it to the write: the job, its heartbeat, what was
measured, the prompt the model read and its pixels, and the queue its final writes go through (the
writer thread's own connection when writing overlaps the next render)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ourvidz_cli.engine.jobs.heartbeat import Heartbeat
from ourvidz_cli.engine.jobs.report import Outcome
from ourvidz_cli.queue import Job, JobQueue


@dataclass
class Attempt:
    job: Job
    beat: Heartbeat
    outcome: Outcome
    queue: JobQueue
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    measures: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    result: Any = None  # families.request.Generated until its files are written

    def settle_beat(self) -> None:
        """Stop renewing the lease (the job is settled, or given back) and take the attempt's duration."""
        if not self.beat.stopping.is_set():
            self.beat.stopping.set()
            self.beat.join(timeout=5)
            self.outcome.duration_s = time.perf_counter() - self.started
