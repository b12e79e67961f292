"""`ourvidz jobs ...`: everything the ledger knows about one job, and its log."""

from __future__ import annotations

import sys

from ourvidz_cli.cli.options import JobIdArg, JsonOpt
from ourvidz_cli.cli.output import emit_json, out_console
from ourvidz_cli.cli.root import studio, sub_app

jobs_app = sub_app("Look at individual jobs.")


@jobs_app.command("show")
def jobs_show(job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """Everything the ledger knows about a job, with its outputs."""
    job = studio().jobs.get(job_id)
    if as_json:
        emit_json(job)
        return
    assets = job.pop("outputs")
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

    st = studio()
    text, path = st.jobs.log(job_id), log_path(st.home, job_id)
    if as_json:
        emit_json({"job_id": job_id, "path": str(path), "log": text})
    else:
        sys.stdout.write(text)
