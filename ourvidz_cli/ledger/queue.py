"""The SQLite implementation of the queue seam (`ourvidz_cli.queue.JobQueue`) over the jobs table.

Each state change is one short BEGIN IMMEDIATE transaction guarded by the worker that holds the job,
so two processes on one ledger never run the same job and a worker that lost its lease cannot
overwrite the work of the one that took over.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import JobStore, decode_job, job_row
from ourvidz_cli.ledger.schedule import PENDING_ENHANCEMENTS, next_job_query
from ourvidz_cli.queue import CANCELED, COMPLETED, FAILED, QUEUED, RUNNING, ClaimOrder, Job, Worker, process_alive

if TYPE_CHECKING:
    from ourvidz_cli.catalog.resolve import JobSpec

class SqliteJobQueue:
    def __init__(self, db: Database, jobs: JobStore) -> None:
        self.db, self.jobs = db, jobs

    def clone(self) -> SqliteJobQueue:
        db = Database(self.db.path)
        return SqliteJobQueue(db, JobStore(db))

    def close(self) -> None:
        self.db.close()

    # -- adding --------------------------------------------------------------------------------

    def add(self, specs: Sequence[JobSpec], assigned_to: str | None = None) -> list[int]:
        """Queued jobs; `assigned_to`: handed to that warm worker (see _MINE)."""
        extra = {"assigned_to": assigned_to} if assigned_to else {}
        with self.db.write() as conn:
            return [self.db.insert(conn, "jobs", job_row(spec, QUEUED, extra)) for spec in specs]

    def add_pair(self, enhanced: JobSpec, raw: JobSpec) -> list[int]:
        """An A/B pair (--ab), both or neither: the raw job points at the enhanced one."""
        with self.db.write() as conn:
            first = self.db.insert(conn, "jobs", job_row(enhanced, QUEUED, {}))
            return [first, self.db.insert(conn, "jobs", job_row(replace(raw, pair_of=first), QUEUED, {}))]

    def add_running(self, spec: JobSpec, worker: Worker, lease_s: float) -> Job:
        now = time.time()
        held = {"attempts": 1, "started_at": now, "worker": worker.id, "worker_host": worker.host,
                "worker_pid": worker.pid, "lease_expires_at": now + lease_s}
        with self.db.write() as conn:
            job_id = self.db.insert(conn, "jobs", job_row(spec, RUNNING, held))
        return self.jobs.get(job_id)

    def add_reused(self, spec: JobSpec, original: Job) -> int:
        """A repeat answered from `original`'s outputs: completed at once, nothing run, no files of its own."""
        now = time.time()
        done = {"started_at": now, "finished_at": now, "duration_s": 0.0, "reused_from": original["id"],
                "enhanced_prompt": spec.enhanced_prompt or original["enhanced_prompt"]}
        with self.db.write() as conn:
            return self.db.insert(conn, "jobs", job_row(spec, COMPLETED, done))

    def adopt(self, spec: JobSpec, uuid: str, origin: str, meta: dict[str, Any], attempt: int, worker: Worker,
              lease_s: float) -> Job:
        """A job taken from a remote queue, held by `worker`: one row per remote job (by its id), reused by
        every attempt this machine makes at it."""
        now = time.time()
        held = {"attempts": attempt, "started_at": now, "worker": worker.id, "worker_host": worker.host,
                "worker_pid": worker.pid, "lease_expires_at": now + lease_s, "origin": origin,
                "origin_meta": json.dumps(meta, sort_keys=True) if meta else None}
        row = {**job_row(spec, RUNNING, held), "uuid": uuid}
        cols = ", ".join(row)
        with self.db.write() as conn:
            conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({', '.join('?' for _ in row)}) ON CONFLICT(uuid) DO "
                         "UPDATE SET status = 'running', worker = excluded.worker, worker_host = excluded.worker_host, "
                         "worker_pid = excluded.worker_pid, started_at = excluded.started_at, finished_at = NULL, "
                         "lease_expires_at = excluded.lease_expires_at, attempts = excluded.attempts, error = NULL, "
                         "cancel_requested = 0", list(row.values()))
            job_id = conn.execute("SELECT id FROM jobs WHERE uuid = ?", [uuid]).fetchone()[0]
        return self.jobs.get(job_id)

    def uuid_clash(self, uuid: str, spec: JobSpec, seed_given: bool) -> str | None:
        """Why a remote item may not run as the job this ledger already holds under its id: an id used
        again for other content (type, prompt, negative prompt, or a seed the item names). None when
        the id is new here or names the same job (another attempt at it)."""
        row = self.db.conn.execute("SELECT id, type, prompt, negative_prompt, seed FROM jobs WHERE uuid = ?",
                                   [uuid]).fetchone()
        if row is None:
            return None
        config = spec.config
        same = (row["type"], row["prompt"], row["negative_prompt"] or "") == (
            spec.job_type, spec.prompt, config.negative or "") and (not seed_given or row["seed"] == config.seed)
        if same:
            return None
        return (f"id {uuid} already names another job on this machine (job {row['id']}: {row['type']} "
                f"{row['prompt'][:40]!r}); a new job needs a new id")

    # -- the worker's side ----------------------------------------------------------------------

    def claim(self, worker: Worker, lease_s: float, order: ClaimOrder | None = None) -> Job | None:
        pick, args = next_job_query(replace(order or ClaimOrder(), worker=worker.id), time.time())
        return self._take(pick, args, worker, lease_s)

    def take(self, job_id: int, worker: Worker, lease_s: float) -> Job | None:
        """Claim this one job if it is still queued (a hand-off whose worker died is run by its client)."""
        return self._take("SELECT id FROM jobs WHERE id = ? AND status = 'queued' AND origin IS NULL", [job_id],
                          worker, lease_s)

    def _take(self, pick: str, args: list[Any], worker: Worker, lease_s: float) -> Job | None:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                f"""
                UPDATE jobs SET status = 'running', worker = ?, worker_host = ?, worker_pid = ?,
                    lease_expires_at = ?, started_at = ?, attempts = attempts + 1, error = NULL
                WHERE id = ({pick})
                RETURNING *
                """,
                [worker.id, worker.host, worker.pid, now + lease_s, now, *args],
            ).fetchone()
        return decode_job(row)

    def pending_enhancements(self, limit: int) -> list[Job]:
        return [decode_job(r) for r in self.db.conn.execute(PENDING_ENHANCEMENTS, [limit])]  # type: ignore[misc]

    def renew(self, job_id: int, worker: Worker, lease_s: float) -> bool | None:
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND worker = ? AND status = 'running' "
                "RETURNING cancel_requested",
                [time.time() + lease_s, job_id, worker.id],
            ).fetchone()
        return None if row is None else bool(row[0])

    def cancel_requested(self, job_id: int) -> bool:
        row = self.db.conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def _update_held(self, job_id: int, worker: Worker, sets: dict[str, Any]) -> bool:
        assignments = ", ".join(f"{k} = ?" for k in sets)
        with self.db.write() as conn:
            cur = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND worker = ? AND status = 'running'",
                [*sets.values(), job_id, worker.id],
            )
        return cur.rowcount == 1

    def record(self, job_id: int, worker: Worker, **facts: Any) -> bool:
        return self._update_held(job_id, worker, facts)

    def complete(self, job_id: int, worker: Worker, assets: Sequence[dict[str, Any]],
                 promote: Callable[[], None] | None = None, **facts: Any) -> bool:
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT started_at FROM jobs WHERE id = ? AND worker = ? AND status = 'running'", [job_id, worker.id]
            ).fetchone()
            if row is None:
                return False
            if promote is not None:  # under the write lock: no other attempt can complete meanwhile
                promote()
            sets = {"status": COMPLETED, "finished_at": now, "duration_s": now - row[0], "lease_expires_at": None,
                    "error": None, **facts}
            assignments = ", ".join(f"{k} = ?" for k in sets)
            conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*sets.values(), job_id])
            conn.execute("DELETE FROM assets WHERE job_id = ?", [job_id])
            for asset in assets:
                self.db.insert(conn, "assets", {"job_id": job_id, "created_at": now, **asset})
        return True

    def _finish(self, job_id: int, worker: Worker, status: str, error: str | None) -> bool:
        now = time.time()
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = ?, duration_s = ? - started_at, "
                "lease_expires_at = NULL WHERE id = ? AND worker = ? AND status = 'running'",
                [status, error, now, now, job_id, worker.id],
            )
        return cur.rowcount == 1

    def fail(self, job_id: int, worker: Worker, error: str) -> bool:
        return self._finish(job_id, worker, FAILED, error)

    def finish_canceled(self, job_id: int, worker: Worker) -> bool:
        return self._finish(job_id, worker, CANCELED, "canceled while running")

    def release(self, job_id: int, worker: Worker, reason: str) -> bool:
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, worker_host = NULL, worker_pid = NULL, "
                "lease_expires_at = NULL, started_at = NULL, attempts = max(attempts - 1, 0), error = ? "
                "WHERE id = ? AND worker = ? AND status = 'running'",
                [reason, job_id, worker.id],
            )
        return cur.rowcount == 1

    def revoke(self, job_id: int, reason: str) -> list[dict[str, Any]]:
        """A remote job's result dropped at the queue's fence (another worker completed it): the row goes
        back to waiting, inert, and its asset rows are removed; returns them, for their files."""
        with self.db.write() as conn:
            assets = [dict(r) for r in conn.execute("SELECT * FROM assets WHERE job_id = ?", [job_id]).fetchall()]
            ids = [a["id"] for a in assets]
            if ids:
                marks = ", ".join("?" for _ in ids)
                conn.execute(f"DELETE FROM sync_assets WHERE asset_id IN ({marks})", ids)
                conn.execute(f"DELETE FROM assets WHERE id IN ({marks})", ids)
            conn.execute("DELETE FROM sync_jobs WHERE job_id = ?", [job_id])
            conn.execute(
                "UPDATE jobs SET status = 'queued', error = ?, worker = NULL, worker_host = NULL, worker_pid = NULL, "
                "lease_expires_at = NULL, finished_at = NULL WHERE id = ? AND origin IS NOT NULL", [reason, job_id])
        return assets

    def _stale(self, worker: Worker) -> list[tuple[Any, str]]:
        now = time.time()
        stale = []
        for row in self.db.conn.execute(
            "SELECT id, worker, worker_host, worker_pid, lease_expires_at, attempts, max_attempts, origin "
            "FROM jobs WHERE status = 'running'"
        ).fetchall():
            if row["worker"] == worker.id:
                continue
            if row["worker_host"] == worker.host and row["worker_pid"] and not process_alive(row["worker_pid"]):
                stale.append((row, f"worker {row['worker']} died (process {row['worker_pid']} is gone)"))
            elif row["lease_expires_at"] is not None and row["lease_expires_at"] < now:
                stale.append((row, f"worker {row['worker']} stopped renewing its lease"))
        return stale

    def reap(self, worker: Worker) -> list[tuple[int, str]]:
        """At once when the holder was a dead process on this host, otherwise once its lease expired."""
        now = time.time()
        done = []
        stale = self._stale(worker)
        with self.db.write() as conn:
            for row, why in stale:
                attempt = f"attempt {row['attempts']} of {row['max_attempts']}"
                if row["origin"]:  # the remote queue's reaper decides; this row waits for it, inert
                    status, error = QUEUED, f"{why} during attempt {row['attempts']}; {row['origin']} hands it on"
                elif row["attempts"] >= row["max_attempts"]:
                    status, error = FAILED, f"{why} during {attempt}; giving up"
                else:
                    status, error = QUEUED, f"{why} during {attempt}; requeued"
                cur = conn.execute(
                    "UPDATE jobs SET status = ?, error = ?, worker = NULL, worker_host = NULL, worker_pid = NULL, "
                    "lease_expires_at = NULL, finished_at = CASE WHEN ? = 'failed' THEN ? END "
                    "WHERE id = ? AND worker = ? AND status = 'running'",
                    [status, error, status, now, row["id"], row["worker"]],
                )
                if cur.rowcount:
                    done.append((row["id"], status))
        return done

    # -- the user's side ------------------------------------------------------------------------

    def cancel(self, job_id: int) -> str:
        """Read and change the status in one transaction: a runner that claims in between cannot make
        a 'canceled' answer false."""
        self.jobs.get(job_id)  # an unknown id is a usage error
        with self.db.write() as conn:
            status = conn.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()[0]
            if status == QUEUED:
                conn.execute("UPDATE jobs SET status = 'canceled', finished_at = ? WHERE id = ?", [time.time(), job_id])
                return CANCELED
            if status == RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])
                return "cancel requested"
        raise UsageError(f"job {job_id} is already {status}; only queued or running jobs can be canceled")

    def retry(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job["status"] not in (FAILED, CANCELED):
            raise UsageError(f"job {job_id} is {job['status']}; only failed or canceled jobs can be retried")
        with self.db.write() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, cancel_requested = 0, "
                "started_at = NULL, finished_at = NULL, duration_s = NULL WHERE id = ?",
                [job_id],
            )
