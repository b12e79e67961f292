"""What a run tells its caller: progress as it happens (a Reporter) and one Outcome per job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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
