"""What was pushed to Supabase: per asset its remote path, state and resumable-upload URL; per job
whether its rows were written. Nothing here holds a key."""

from __future__ import annotations

import time
from typing import Any

from ourvidz_cli.ledger.db import Database

PENDING, SYNCED, FAILED, SKIPPED = "pending", "synced", "failed", "skipped"

_PENDING_JOBS = (
    "SELECT j.id FROM jobs j WHERE j.status = 'completed' AND (NOT EXISTS (SELECT 1 FROM sync_jobs s "
    "WHERE s.job_id = j.id AND s.status = 'synced') OR EXISTS (SELECT 1 FROM assets a LEFT JOIN "
    "sync_assets sa ON sa.asset_id = a.id WHERE a.job_id = j.id AND coalesce(sa.status, 'pending') "
    "NOT IN ('synced', 'skipped')))")


class SyncStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pending_job_ids(self, job_id: int | None = None) -> list[int]:
        """Completed jobs with an asset not yet synced or skipped, or whose rows are not yet written."""
        sql, args = _PENDING_JOBS, []
        if job_id is not None:
            sql += " AND j.id = ?"
            args.append(job_id)
        return [int(r[0]) for r in self.db.conn.execute(sql + " ORDER BY j.id", args)]

    def asset(self, asset_id: int) -> dict[str, Any] | None:
        row = self.db.conn.execute("SELECT * FROM sync_assets WHERE asset_id = ?", [asset_id]).fetchone()
        return dict(row) if row else None

    def record_asset(self, asset_id: int, job_id: int, path: str, status: str, error: str | None,
                     tus_url: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO sync_assets (asset_id, job_id, remote_path, status, error, attempts, tus_url, synced_at) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT(asset_id) DO UPDATE SET "
                "remote_path = excluded.remote_path, status = excluded.status, error = excluded.error, "
                "attempts = sync_assets.attempts + 1, "
                "tus_url = excluded.tus_url, synced_at = excluded.synced_at",
                [asset_id, job_id, path, status, error, tus_url, time.time() if status == SYNCED else None])

    def job_synced(self, job_id: int, remote_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO sync_jobs (job_id, remote_id, status, error, synced_at) VALUES (?, ?, 'synced', NULL, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET status = 'synced', error = NULL, synced_at = excluded.synced_at",
                [job_id, remote_id, time.time()])

    def job_failed(self, job_id: int, remote_id: str, error: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO sync_jobs (job_id, remote_id, status, error) VALUES (?, ?, 'failed', ?) "
                "ON CONFLICT(job_id) DO UPDATE SET status = 'failed', error = excluded.error",
                [job_id, remote_id, error])

    def counts(self) -> dict[str, Any]:
        rows = self.db.conn.execute(
            "SELECT coalesce(sa.status, 'pending') AS st, count(*) FROM assets a JOIN jobs j ON j.id = a.job_id "
            "LEFT JOIN sync_assets sa ON sa.asset_id = a.id WHERE j.status = 'completed' GROUP BY st").fetchall()
        assets = {PENDING: 0, SYNCED: 0, FAILED: 0, SKIPPED: 0} | {r[0]: r[1] for r in rows}
        jobs_synced = self.db.conn.execute("SELECT count(*) FROM sync_jobs WHERE status = 'synced'").fetchone()[0]
        problems = [dict(r) for r in self.db.conn.execute(
            "SELECT asset_id, job_id, remote_path, status, error FROM sync_assets WHERE status IN ('failed', "
            "'skipped') ORDER BY asset_id")]
        return {"assets": assets, "jobs_synced": jobs_synced, "problems": problems}
