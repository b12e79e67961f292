"""Reading jobs: one by id, lists by status, counts. Rows come back as dicts with a typed `config`."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ourvidz_cli.catalog.job import JobConfig
from ourvidz_cli.errors import NotFound
from ourvidz_cli.ledger.db import Database
from ourvidz_cli.queue import Job

# SQLite's integer range: a larger id is not a job, and would overflow the driver.
MAX_ID = 2**63 - 1


def decode_job(row: sqlite3.Row | None) -> Job | None:
    if row is None:
        return None
    job = dict(row)
    job["config"] = JobConfig.from_dict(json.loads(job["config"]))
    return job


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, job_id: int) -> Job:
        job = decode_job(self.db.conn.execute("SELECT * FROM jobs WHERE id = ?", [job_id]).fetchone()) \
            if 0 <= job_id <= MAX_ID else None
        if job is None:
            raise NotFound(f"no job {job_id} in {self.db.path}; 'ourvidz queue list' shows the jobs there")
        return job

    def list(self, status: str | None = None, limit: int | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [decode_job(r) for r in self.db.conn.execute(sql, args)]  # type: ignore[misc]

    def partner(self, job: Job) -> int | None:
        """The other job of an A/B pair: the raw one for an enhanced job, the enhanced one for a raw one."""
        if job.get("pair_of"):
            return int(job["pair_of"])
        row = self.db.conn.execute("SELECT id FROM jobs WHERE pair_of = ? ORDER BY id LIMIT 1", [job["id"]]).fetchone()
        return None if row is None else int(row[0])

    def reusable(self, fingerprint: str) -> tuple[Job, list[dict[str, Any]]] | None:
        """The newest completed job that rendered this request itself (not by reuse), with its assets."""
        row = self.db.conn.execute(
            "SELECT * FROM jobs WHERE fingerprint = ? AND status = 'completed' AND reused_from IS NULL "
            "ORDER BY finished_at DESC, id DESC LIMIT 1", [fingerprint]).fetchone()
        if row is None:
            return None
        assets = self.db.conn.execute("SELECT * FROM assets WHERE job_id = ? ORDER BY idx", [row["id"]])
        return decode_job(row), [dict(a) for a in assets]  # type: ignore[return-value]

    def statuses(self, job_ids: list[int]) -> dict[int, str]:
        """Each job's status, in one query per 900 ids (a grid's cells: no row decoded per cell)."""
        found: dict[int, str] = {}
        for start in range(0, len(job_ids), 900):  # SQLite's bound-variable limit
            chunk = job_ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            found |= {int(r[0]): r[1] for r in self.db.conn.execute(
                f"SELECT id, status FROM jobs WHERE id IN ({marks})", chunk)}
        return found

    def count(self, status: str | None = None) -> int:
        if status:
            return int(self.db.conn.execute("SELECT count(*) FROM jobs WHERE status = ?", [status]).fetchone()[0])
        return int(self.db.conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


def job_row(spec: Any, status: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The jobs-table row for a new job from a JobSpec."""
    import time
    import uuid

    from ourvidz_cli.ledger.enhancements import cache_key

    config: JobConfig = spec.config
    enhance_key = None
    if config.enhancer is not None and config.enhance is not None:
        enhance_key = cache_key(config.enhancer, config.enhance, spec.prompt)
    return {
        "uuid": str(uuid.uuid4()), "type": spec.job_type, "status": status, "prompt": spec.prompt,
        "negative_prompt": config.negative, "seed": config.seed,
        "config": json.dumps(config.to_dict(), sort_keys=True), "priority": spec.priority, "attempts": 0,
        "max_attempts": spec.max_attempts, "created_at": time.time(), "rerun_of": spec.rerun_of,
        "model_key": config.model.source, "enhancer_key": config.enhancer.source if config.enhancer else None,
        "enhance_key": enhance_key, "enhanced_prompt": spec.enhanced_prompt,
        "fingerprint": getattr(spec, "fingerprint", None), "pair_of": getattr(spec, "pair_of", None), **extra,
    }
