"""Progress as typed events, for `on_progress` callbacks: the same reports the CLI's bars draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JobStarted:
    job_id: int
    job_type: str
    prompt: str
    smoke: bool = False  # the smoke profile's random-weight models: its outputs will be noise


@dataclass(frozen=True)
class Phase:
    text: str  # "loading sdxl", "generating on cuda", a hand-off or reuse note


@dataclass(frozen=True)
class Step:
    done: int
    total: int


@dataclass(frozen=True)
class JobFinished:
    job_id: int
    status: str
    outputs: tuple[str, ...]
    error: str | None
    duration_s: float = 0.0


Event = JobStarted | Phase | Step | JobFinished


class EventReporter:
    """An engine Reporter that hands each report to `on_progress` as an event (or drops it)."""

    def __init__(self, on_progress: Callable[[Event], None] | None) -> None:
        self.on_progress = on_progress or (lambda event: None)

    def job_started(self, job: dict[str, Any]) -> None:
        self.on_progress(JobStarted(job["id"], job["type"], job["prompt"], bool(job["config"].smoke)))

    def phase(self, text: str) -> None:
        self.on_progress(Phase(text))

    def step(self, done: int, total: int) -> None:
        self.on_progress(Step(done, total))

    def job_finished(self, outcome: Any) -> None:
        self.on_progress(JobFinished(outcome.job_id, outcome.status, tuple(outcome.outputs), outcome.error,
                                     outcome.duration_s))
