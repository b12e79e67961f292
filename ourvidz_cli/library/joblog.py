"""Per-job log files (`<home>/logs/<id>.log`): attempts, timings, warnings, tracebacks."""

from __future__ import annotations

import time
from pathlib import Path

from ourvidz_cli.paths import logs_dir


def log_path(home: Path, job_id: int) -> Path:
    return logs_dir(home) / f"{job_id}.log"


def append(home: Path, job_id: int, text: str) -> None:
    path = log_path(home, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}\n")
