"""`ourvidz jobs ...`: everything the ledger knows about one job, and its log."""

from __future__ import annotations

import json
import sys
from typing import Any

from ourvidz_cli.cli.options import JobIdArg, JsonOpt
from ourvidz_cli.cli.output import emit_json, out_console, when
from ourvidz_cli.cli.root import sub_app, workspace
from ourvidz_cli.errors import NotFound

jobs_app = sub_app("Look at individual jobs.")

_COPIED = ("id", "uuid", "type", "status", "prompt", "negative_prompt", "enhanced_prompt", "enhance_note", "seed",
           "priority", "attempts", "max_attempts", "error")
_TIMES = ("created_at", "started_at", "finished_at")
_MEASURES = ("duration_s", "load_s", "enhance_s")
_MORE = ("generate_s", "peak_mem_mb", "mem_kind", "device", "fallback", "rerun_of", "worker")


def job_row(job: dict[str, Any]) -> dict[str, Any]:
    """A job as `jobs show --json` and `queue list --json` print it (the keys and order users script on)."""
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


@jobs_app.command("show")
def jobs_show(job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """Everything the ledger knows about a job, with its outputs."""
    ws = workspace()
    job = job_row(ws.ledger.jobs.get(job_id))
    assets = ws.ledger.assets.for_job(job_id)
    for a in assets:
        a["path"] = str(ws.home / a["path"])
    if as_json:
        emit_json({**job, "outputs": assets})
        return
    from rich.table import Table

    table = Table(show_header=False, title=f"job {job_id}")
    for key, value in job.items():
        if key != "config" and value not in (None, ""):
            table.add_row(key, str(value))
    out = out_console()
    out.print(table)
    for a in assets:
        out.print(f"{a['path']}  {a['width']}x{a['height']}  {a['bytes']} bytes  sha256 {a['sha256'][:16]}")


@jobs_app.command("log")
def jobs_log(job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """Show a job's log: attempts, timings, warnings, and the traceback of a failure."""
    from ourvidz_cli.library.joblog import log_path

    ws = workspace()
    ws.ledger.jobs.get(job_id)  # an unknown id is a usage error, not a missing file
    path = log_path(ws.home, job_id)
    if not path.is_file():
        raise NotFound(f"job {job_id} has no log yet (it has not started); 'ourvidz jobs show {job_id}' has its state")
    text = path.read_text(encoding="utf-8", errors="replace")
    if as_json:
        emit_json({"job_id": job_id, "path": str(path), "log": text})
    else:
        sys.stdout.write(text)
