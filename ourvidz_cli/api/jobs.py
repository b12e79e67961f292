"""A Studio's jobs (`studio.jobs`): each as the dict `ourvidz jobs show --json` prints, and its log."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import NotFound

if TYPE_CHECKING:
    from ourvidz_cli.app import App

_COPIED = ("id", "uuid", "type", "status", "prompt", "negative_prompt", "enhanced_prompt", "enhance_note", "seed",
           "priority", "attempts", "max_attempts", "error")
_TIMES = ("created_at", "started_at", "finished_at")
_MEASURES = ("duration_s", "load_s", "enhance_s")
_MORE = ("generate_s", "peak_mem_mb", "mem_kind", "device", "fallback", "rerun_of", "worker")


def when(ts: float | None) -> str | None:
    """A ledger timestamp as local ISO time (seconds), or None."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts)) if ts else None


def job_row(job: dict[str, Any]) -> dict[str, Any]:
    """A ledger job as `jobs show --json` and `queue list --json` print it (the keys and order users script on)."""
    cfg = job["config"]
    row = {k: job[k] for k in _COPIED}
    row |= {k: when(job[k]) for k in _TIMES}
    row |= {k: job[k] for k in _MEASURES}
    row["enhance_cached"] = bool(job["enhance_cached"]) if job["enhance_cached"] is not None else None
    row |= {k: job[k] for k in _MORE}
    row["lease_expires_at"] = when(job["lease_expires_at"])
    row |= {"steps": cfg.steps, "size": f"{cfg.width}x{cfg.height}", "frames": cfg.frames, "count": cfg.count,
            "bucket": cfg.bucket, "config": cfg.to_dict()}
    # Newer keys go last: scripts keyed on the ones above keep working.
    row["model_load_s"] = job.get("model_load_s")
    row["revisions"] = json.loads(job["revisions"]) if job.get("revisions") else {}  # {hub source: commit}
    row["reused_from"] = job.get("reused_from")  # a skipped repeat: the job whose outputs answered it
    row["pair_of"] = job.get("pair_of")  # an A/B pair's raw-prompt job: the enhanced job it is compared with
    return row


class JobsApi:
    """The jobs of a Studio's ledger, whatever their status."""

    def __init__(self, app: App) -> None:
        self.app = app

    def get(self, job_id: int) -> dict[str, Any]:
        """Everything the ledger knows about a job (its settings under "config"), with its output files under
        "outputs" (absolute paths, sizes, sha256): `ourvidz jobs show --json`. NotFound for an unknown id."""
        row = job_row(self.app.ledger.jobs.get(job_id))
        outputs = self.app.ledger.assets.for_job(job_id)
        for asset in outputs:
            asset["path"] = str(self.app.home / asset["path"])
        return {**row, "outputs": outputs}

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Jobs newest first (in `status` if given; at most `limit`), without their outputs."""
        from ourvidz_cli.errors import UsageError
        from ourvidz_cli.queue import STATUSES

        if status is not None and status not in STATUSES:
            raise UsageError(f"--status '{status}' is not one of {', '.join(STATUSES)}")
        return [job_row(j) for j in self.app.ledger.jobs.list(status=status, limit=limit)]

    def count(self, status: str | None = None) -> int:
        """How many jobs the ledger holds (in `status` if given)."""
        return int(self.app.ledger.jobs.count(status))

    def log(self, job_id: int) -> str:
        """The job's log: attempts, timings, warnings, the traceback of a failure."""
        from ourvidz_cli.library.joblog import log_path

        self.app.ledger.jobs.get(job_id)  # an unknown id is NotFound, not a missing file
        path = log_path(self.app.home, job_id)
        if not path.is_file():
            raise NotFound(f"job {job_id} has no log yet (it has not started); 'ourvidz jobs show {job_id}' has its "
                           "state")
        return path.read_text(encoding="utf-8", errors="replace")
