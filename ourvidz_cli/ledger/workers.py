"""Warm workers on this ledger: each `ourvidz worker` keeps one row (who, what it serves, what it holds,
its job's progress) while it runs, so `generate` can hand it a job and `worker status` can show it."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from ourvidz_cli.ledger.db import Database
from ourvidz_cli.queue import Worker, process_alive

# A worker beats every second; one silent this long is taken for gone even if no pid check can tell.
STALE_AFTER_S = 15.0
# Rows of workers that died without deleting them are pruned when another worker starts.
PRUNE_AFTER_S = 24 * 3600.0


def _decode(row: Any) -> dict[str, Any]:
    worker = dict(row)
    for key in ("serves", "settings", "resident"):
        worker[key] = json.loads(worker[key]) if worker[key] else ([] if key != "settings" else {})
    return worker


def is_alive(worker: dict[str, Any], now: float | None = None) -> bool:
    """Beating recently, and when it runs on this host, its process still exists."""
    now = time.time() if now is None else now
    if worker["host"] == socket.gethostname() and not process_alive(worker["pid"]):
        return False
    return bool(worker["beat_at"]) and now - worker["beat_at"] < STALE_AFTER_S


class WorkerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, worker: Worker, serves: list[str], settings: dict[str, Any], bell: str | None) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute("DELETE FROM workers WHERE beat_at < ?", [now - PRUNE_AFTER_S])
            conn.execute(
                "INSERT OR REPLACE INTO workers (id, host, pid, started_at, beat_at, bell, serves, settings, resident) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '[]')",
                [worker.id, worker.host, worker.pid, now, now, bell, json.dumps(sorted(serves)),
                 json.dumps(settings, sort_keys=True)],
            )

    def beat(self, worker_id: str, resident: list[str]) -> bool:
        """False when the row is gone (a `worker status --prune` or a test removed it): re-register."""
        with self.db.write() as conn:
            cur = conn.execute("UPDATE workers SET beat_at = ?, resident = ? WHERE id = ?",
                               [time.time(), json.dumps(resident), worker_id])
        return cur.rowcount == 1

    def holding(self, worker_id: str, job_id: int | None) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE workers SET job_id = ?, phase = NULL, step = NULL, steps = NULL WHERE id = ?",
                         [job_id, worker_id])

    def phase(self, worker_id: str, text: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE workers SET phase = ?, phase_seq = phase_seq + 1 WHERE id = ?", [text, worker_id])

    def step(self, worker_id: str, done: int, total: int) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE workers SET step = ?, steps = ? WHERE id = ?", [done, total, worker_id])

    def unregister(self, worker_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM workers WHERE id = ?", [worker_id])

    def get(self, worker_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute("SELECT * FROM workers WHERE id = ?", [worker_id]).fetchone()
        return None if row is None else _decode(row)

    def all(self) -> list[dict[str, Any]]:
        return [_decode(r) for r in self.db.conn.execute("SELECT * FROM workers ORDER BY started_at")]

    def live(self) -> list[dict[str, Any]]:
        now = time.time()
        return [w for w in self.all() if is_alive(w, now)]
