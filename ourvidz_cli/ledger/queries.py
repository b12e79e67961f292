"""Read-only queries for the library's reports: per-job figures for stats, finished jobs for the gallery."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import decode_job


class Queries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def job_figures(self, since: float | None = None) -> list[dict[str, Any]]:
        sql = "SELECT type, status, duration_s, load_s, enhance_s, peak_mem_mb, mem_kind FROM jobs"
        args: list[Any] = []
        if since is not None:
            sql += " WHERE created_at >= ?"
            args.append(since)
        return [dict(r) for r in self.db.conn.execute(sql, args)]

    def finished_jobs(self) -> list[dict[str, Any]]:
        """Completed and failed jobs, most recently finished first."""
        rows = self.db.conn.execute(
            "SELECT * FROM jobs WHERE status IN ('completed', 'failed') ORDER BY coalesce(finished_at, created_at) "
            "DESC, id DESC")
        return [decode_job(r) for r in rows]  # type: ignore[misc]

    def timings(self) -> list[dict[str, Any]]:
        """What completed jobs measured, rendered here (not reused, not from a remote queue), for estimates."""
        rows = self.db.conn.execute(
            "SELECT type, model_key, enhancer_key, load_s, model_load_s, generate_s, enhance_s, enhance_cached, "
            "duration_s "
            "FROM jobs WHERE status = 'completed' AND reused_from IS NULL AND origin IS NULL "
            "AND generate_s IS NOT NULL ORDER BY finished_at DESC LIMIT 5000")
        return [dict(r) for r in rows]
