"""The job ledger: one SQLite file holding jobs and their output assets.

Every state change is one short write transaction (BEGIN IMMEDIATE) guarded by the worker that
holds the job, so two processes on one ledger never run the same job and a worker that lost its
lease cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog import JobSpec
from ourvidz_cli.errors import NotFound, UsageError
from ourvidz_cli.worker import Worker, process_alive

QUEUED, RUNNING, COMPLETED, FAILED, CANCELED = "queued", "running", "completed", "failed", "canceled"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELED)
SCHEMA_VERSION = 7  # len(migrations.MIGRATIONS); checked here so the common path skips sqlite-utils


def enhance_key(spec: JobSpec) -> str | None:
    config = spec.config
    if not config.get("enhancer") or not config.get("enhance"):
        return None
    from ourvidz_cli.enhancer import cache_key

    return cache_key(config["enhancer"], config["enhance"], spec.prompt)


def _job(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    job = dict(row)
    job["config"] = json.loads(job["config"])
    return job


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UsageError(
                f"the ledger {path} cannot be opened ({exc}); move it aside or use another --home"
            ) from None

    def _migrate(self) -> None:
        import sqlite_utils

        from ourvidz_cli import migrations

        with self.write():
            migrations.apply(sqlite_utils.Database(self.conn))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- adding jobs ---------------------------------------------------------------------------

    def _insert(self, conn: sqlite3.Connection, spec: JobSpec, status: str, extra: dict[str, Any]) -> int:
        row = {
            "uuid": str(uuid.uuid4()),
            "type": spec.job_type,
            "status": status,
            "prompt": spec.prompt,
            "negative_prompt": spec.negative,
            "seed": spec.seed,
            "config": json.dumps(spec.config, sort_keys=True),
            "priority": spec.priority,
            "attempts": 0,
            "max_attempts": spec.max_attempts,
            "created_at": time.time(),
            "rerun_of": spec.rerun_of,
            "model_key": spec.config["model"]["source"],
            "enhancer_key": (spec.config.get("enhancer") or {}).get("source"),
            "enhance_key": enhance_key(spec),
            **extra,
        }
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", list(row.values()))
        return int(cur.lastrowid or 0)

    def add(self, specs: Sequence[JobSpec]) -> list[int]:
        """Queue jobs, all or none."""
        with self.write() as conn:
            return [self._insert(conn, spec, QUEUED, {}) for spec in specs]

    def add_running(self, spec: JobSpec, worker: Worker, lease_s: float) -> dict[str, Any]:
        """Insert a job already held by this worker, so no queue runner can take it first."""
        now = time.time()
        with self.write() as conn:
            job_id = self._insert(
                conn,
                spec,
                RUNNING,
                {
                    "attempts": 1,
                    "started_at": now,
                    "worker": worker.id,
                    "worker_host": worker.host,
                    "worker_pid": worker.pid,
                    "lease_expires_at": now + lease_s,
                },
            )
        return self.get(job_id)

    # -- reading -------------------------------------------------------------------------------

    def get(self, job_id: int) -> dict[str, Any]:
        job = _job(self.conn.execute("SELECT * FROM jobs WHERE id = ?", [job_id]).fetchone())
        if job is None:
            raise NotFound(f"no job {job_id} in {self.path}; 'ourvidz queue list' shows the jobs there")
        return job

    def list(self, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM jobs", []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_job(r) for r in self.conn.execute(sql, args)]  # type: ignore[misc]

    def count(self, status: str | None = None) -> int:
        if status:
            return int(self.conn.execute("SELECT count(*) FROM jobs WHERE status = ?", [status]).fetchone()[0])
        return int(self.conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

    def assets(self, job_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM assets WHERE job_id = ? ORDER BY idx", [job_id])
        return [dict(r) for r in rows]

    # -- the worker's side ----------------------------------------------------------------------

    def claim(self, worker: Worker, lease_s: float, resident: Sequence[str] = (),
              max_wait_s: float | None = None, order: str = "smart") -> dict[str, Any] | None:
        """Take the next queued job.

        smart: a job queued longer than `max_wait_s` first (oldest first), so nothing starves; then
        priority (fast before high); then jobs whose models are all resident (`resident`: model
        sources now loaded; Qwen counts as not needed once a job's prompt is in the cache); then age.
        fifo: arrival order only, for comparison.
        """
        now = time.time()
        if order == "fifo":
            pick, args = "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1", []
        else:
            marks = ", ".join("?" for _ in resident)
            starve = now - max_wait_s if max_wait_s is not None else -1.0
            pick = f"""
                SELECT id FROM jobs WHERE status = 'queued'
                ORDER BY created_at < ? DESC, CASE WHEN created_at < ? THEN created_at END,
                    priority,
                    (model_key NOT IN ({marks}))
                      + (enhancer_key IS NOT NULL AND enhancer_key NOT IN ({marks})
                         AND NOT EXISTS (SELECT 1 FROM enhancements e WHERE e.key = jobs.enhance_key)),
                    created_at, id
                LIMIT 1"""
            args = [starve, starve, *resident, *resident]
        with self.write() as conn:
            row = conn.execute(
                f"""
                UPDATE jobs SET status = 'running', worker = ?, worker_host = ?, worker_pid = ?,
                    lease_expires_at = ?, started_at = ?, attempts = attempts + 1, error = NULL
                WHERE id = ({pick})
                RETURNING *
                """,
                [worker.id, worker.host, worker.pid, now + lease_s, now, *args],
            ).fetchone()
        return _job(row)

    def pending_enhancements(self) -> list[dict[str, Any]]:
        """Queued jobs whose prompt Qwen has not enhanced yet (for batching while Qwen is loaded)."""
        rows = self.conn.execute(
            "SELECT * FROM jobs WHERE status = 'queued' AND enhancer_key IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM enhancements e WHERE e.key = jobs.enhance_key) ORDER BY priority, created_at, id"
        )
        return [_job(r) for r in rows]  # type: ignore[misc]

    def renew(self, job_id: int, worker: Worker, lease_s: float) -> bool | None:
        """Extend the lease; returns whether a cancel was asked for, or None if the job was lost."""
        with self.write() as conn:
            row = conn.execute(
                "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND worker = ? AND status = 'running' "
                "RETURNING cancel_requested",
                [time.time() + lease_s, job_id, worker.id],
            ).fetchone()
        return None if row is None else bool(row[0])

    def _update_held(self, job_id: int, worker: Worker, sets: dict[str, Any]) -> bool:
        assignments = ", ".join(f"{k} = ?" for k in sets)
        with self.write() as conn:
            cur = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND worker = ? AND status = 'running'",
                [*sets.values(), job_id, worker.id],
            )
        return cur.rowcount == 1

    def record(self, job_id: int, worker: Worker, **fields: Any) -> bool:
        """Store facts learnt while running (enhanced prompt, load time) on a held job."""
        return self._update_held(job_id, worker, fields)

    def complete(self, job_id: int, worker: Worker, assets: Sequence[dict[str, Any]], **fields: Any) -> bool:
        """Mark done and record its outputs in one transaction; False if the job was taken away."""
        now = time.time()
        with self.write() as conn:
            row = conn.execute(
                "SELECT started_at FROM jobs WHERE id = ? AND worker = ? AND status = 'running'", [job_id, worker.id]
            ).fetchone()
            if row is None:
                return False
            sets = {"status": COMPLETED, "finished_at": now, "duration_s": now - row[0], "lease_expires_at": None,
                    "error": None, **fields}
            assignments = ", ".join(f"{k} = ?" for k in sets)
            conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*sets.values(), job_id])
            conn.execute("DELETE FROM assets WHERE job_id = ?", [job_id])
            for asset in assets:
                row_ = {"job_id": job_id, "created_at": now, **asset}
                conn.execute(
                    f"INSERT INTO assets ({', '.join(row_)}) VALUES ({', '.join('?' for _ in row_)})",
                    list(row_.values()),
                )
        return True

    def _finish(self, job_id: int, worker: Worker, status: str, error: str | None) -> bool:
        now = time.time()
        with self.write() as conn:
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
        """Put a held job back in the queue without charging it an attempt (Ctrl-C is not its fault)."""
        with self.write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'queued', worker = NULL, worker_host = NULL, worker_pid = NULL, "
                "lease_expires_at = NULL, started_at = NULL, attempts = max(attempts - 1, 0), error = ? "
                "WHERE id = ? AND worker = ? AND status = 'running'",
                [reason, job_id, worker.id],
            )
        return cur.rowcount == 1

    def reap(self, worker: Worker) -> list[tuple[int, str]]:
        """Requeue jobs whose worker is gone: at once when it was a dead process on this host,
        otherwise once its lease has expired. Past max attempts they fail instead."""
        now = time.time()
        stale = []
        for row in self.conn.execute(
            "SELECT id, worker, worker_host, worker_pid, lease_expires_at, attempts, max_attempts "
            "FROM jobs WHERE status = 'running'"
        ).fetchall():
            if row["worker"] == worker.id:
                continue
            if row["worker_host"] == worker.host and row["worker_pid"] and not process_alive(row["worker_pid"]):
                why = f"worker {row['worker']} died (process {row['worker_pid']} is gone)"
            elif row["lease_expires_at"] is not None and row["lease_expires_at"] < now:
                why = f"worker {row['worker']} stopped renewing its lease"
            else:
                continue
            stale.append((row, why))
        done = []
        with self.write() as conn:
            for row, why in stale:
                attempt = f"attempt {row['attempts']} of {row['max_attempts']}"
                if row["attempts"] >= row["max_attempts"]:
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
        """Cancel a queued job at once; ask a running one to stop at its next step."""
        job = self.get(job_id)
        with self.write() as conn:
            if job["status"] == QUEUED:
                conn.execute(
                    "UPDATE jobs SET status = 'canceled', finished_at = ? WHERE id = ? AND status = 'queued'",
                    [time.time(), job_id],
                )
                return CANCELED
            if job["status"] == RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])
                return "cancel requested"
        raise UsageError(f"job {job_id} is already {job['status']}; only queued or running jobs can be canceled")

    def retry(self, job_id: int) -> None:
        job = self.get(job_id)
        if job["status"] not in (FAILED, CANCELED):
            raise UsageError(f"job {job_id} is {job['status']}; only failed or canceled jobs can be retried")
        with self.write() as conn:
            conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, cancel_requested = 0, "
                "started_at = NULL, finished_at = NULL, duration_s = NULL WHERE id = ?",
                [job_id],
            )

    # -- storyboard projects ----------------------------------------------------------------------

    def add_project(self, name: str, script: str, job_type: str, source: str, note: str | None,
                    characters: Sequence[tuple[str, str]], scenes: Sequence[tuple[dict[str, Any], JobSpec]]) -> int:
        """The project, its characters, its scenes and one queued job per scene: all or nothing."""
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
                raise UsageError(f"a project named '{name}' exists; pick another --name")
            project_id = int(conn.execute(
                "INSERT INTO projects (name, script, job_type, source, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [name, script, job_type, source, note, time.time()],
            ).lastrowid or 0)
            for char_name, description in characters:
                conn.execute("INSERT INTO characters (project_id, name, description) VALUES (?, ?, ?)",
                             [project_id, char_name, description])
            for idx, (scene, spec) in enumerate(scenes):
                job_id = self._insert(conn, spec, QUEUED, {})
                conn.execute(
                    "INSERT INTO scenes (project_id, idx, title, shot, duration_s, characters, prompt, job_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [project_id, idx, scene["title"], scene["shot"], scene["duration_s"],
                     json.dumps(scene["characters"]), spec.prompt, job_id],
                )
        return project_id

    def project(self, name: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM projects WHERE name = ?", [name]).fetchone()
        if row is None:
            names = [r[0] for r in self.conn.execute("SELECT name FROM projects ORDER BY id")]
            known = f"; projects: {', '.join(names)}" if names else "; make one with 'ourvidz storyboard SCRIPT'"
            raise NotFound(f"no project '{name}'{known}")
        project = dict(row)
        project["characters"] = [dict(r) for r in self.conn.execute(
            "SELECT name, description FROM characters WHERE project_id = ? ORDER BY id", [project["id"]])]
        scenes = []
        for r in self.conn.execute(
            "SELECT s.*, j.status, j.error, j.enhanced_prompt FROM scenes s LEFT JOIN jobs j ON j.id = s.job_id "
            "WHERE s.project_id = ? ORDER BY s.idx", [project["id"]]
        ):
            scene = dict(r)
            scene["characters"] = json.loads(scene["characters"] or "[]")
            scene["outputs"] = self.assets(scene["job_id"]) if scene["job_id"] else []
            scenes.append(scene)
        project["scenes"] = scenes
        return project

    def set_render(self, project_id: int, path: str) -> None:
        with self.write() as conn:
            conn.execute("UPDATE projects SET render_path = ? WHERE id = ?", [path, project_id])
