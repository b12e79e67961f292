"""What a Studio call returns: a job's `Result`, and `JobFailed` for a job that ran and did not complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import OurvidzError

if TYPE_CHECKING:
    from ourvidz_cli.app import App


class JobFailed(OurvidzError):
    """A job ran and failed (or was canceled); `result` holds what the ledger recorded."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Result:
    """One job's outcome: its id, status, output files, resolved settings and timings, and (for a job that did
    not complete) its error."""

    job_id: int
    status: str
    outputs: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float | None] = field(default_factory=dict)
    reused_from: int | None = None
    job_type: str = ""
    error: str | None = None
    duration_s: float = 0.0
    enhanced_prompt: str | None = None  # what Qwen wrote, for an enhanced job
    smoke: bool = False  # made by the smoke profile's random-weight models: the pixels are noise

    def as_dict(self) -> dict[str, Any]:
        """The job as `ourvidz generate --json` prints it (the keys scripts rely on, in that order)."""
        row = {"job_id": self.job_id, "type": self.job_type, "status": self.status, "outputs": self.outputs,
               "error": self.error, "duration_s": round(self.duration_s, 3), "enhanced_prompt": self.enhanced_prompt,
               "smoke": self.smoke}
        return row | ({"reused_from": self.reused_from} if self.reused_from is not None else {})

    def images(self) -> list[Any]:
        """The outputs as PIL images (a video's: none)."""
        from PIL import Image

        return [Image.open(p) for p in self.outputs if p.endswith(".png")]

    def frames(self) -> list[Any]:
        """A video's frames, as uint8 arrays (height, width, 3)."""
        from ourvidz_cli.library.contact_sheet import video_frames

        return [f for p in self.outputs if p.endswith(".mp4") for f in video_frames(Path(p))]


def result_of(app: App, outcome: Any, extra: dict[str, Any], strict: bool = True) -> Result:
    """A run's outcome as a Result, with the ledger's timings; with `strict`, a job that did not complete
    raises JobFailed."""
    job = app.ledger.jobs.get(outcome.job_id)
    timings = {k: job.get(k) for k in ("load_s", "generate_s", "enhance_s", "duration_s")}
    result = Result(outcome.job_id, outcome.status, list(outcome.outputs), job["config"].to_dict(), timings,
                    extra.get("reused_from"), outcome.job_type, outcome.error, outcome.duration_s,
                    outcome.enhanced_prompt, outcome.smoke)
    if strict and outcome.status != "completed":
        raise JobFailed(f"job {outcome.job_id} {outcome.status}: {outcome.error}", result)
    return result
