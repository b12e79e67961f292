"""A dry run of the queue: the order `queue run` would take, found by running the scheduler's own query
(`queue.next_job_query`) inside a savepoint that is rolled back, so nothing is claimed or changed.

Each step marks the picked job as started (the smart order groups by when a model last ran) and, when
the job asks Qwen, records placeholder answers for it and for the queued prompts a run would enhance in
the same batch, so later picks see the cache a run would have.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import decode_job
from ourvidz_cli.ledger.schedule import PENDING_ENHANCEMENTS, next_job_query
from ourvidz_cli.queue import ClaimOrder, Job

# (job, whether it asks the enhancer) -> (seconds it will take, queued prompts its enhancer batch answers)
OnJob = Callable[[Job, bool], tuple[float, int]]


def _asks_enhancer(conn: sqlite3.Connection, job: Job) -> bool:
    if not job["enhancer_key"] or job["enhanced_prompt"]:
        return False
    return conn.execute("SELECT 1 FROM enhancements WHERE key = ?", [job["enhance_key"]]).fetchone() is None


def _pretend_answered(conn: sqlite3.Connection, job: Job, batch: int) -> None:
    def answer(key: str) -> None:
        conn.execute("INSERT OR IGNORE INTO enhancements (key, model, target, input, output, created_at) "
                     "VALUES (?, '', '', '', '(planned)', ?)", [key, time.time()])

    answer(job["enhance_key"])  # first, as a run caches it before it looks for the batch
    for row in conn.execute(PENDING_ENHANCEMENTS, [batch]).fetchall() if batch else []:
        answer(row["enhance_key"])


def replay(db: Database, order_for: Callable[[], ClaimOrder], on_job: OnJob, start: float) -> None:
    """Hand each queued job to `on_job` in the order claims would take them; `order_for` gives the claim
    order at each step (the models resident then)."""
    now = start
    with db.write() as conn:
        conn.execute("SAVEPOINT plan")
        try:
            while True:
                sql, args = next_job_query(order_for(), now)
                row = conn.execute(f"SELECT * FROM jobs WHERE id = ({sql})", args).fetchone()
                if row is None:
                    return
                job: Job = decode_job(row)  # type: ignore[assignment]
                conn.execute("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", [now, job["id"]])
                asks = _asks_enhancer(conn, job)
                seconds, batch = on_job(job, asks)
                if asks:
                    _pretend_answered(conn, job, batch)
                now += seconds
        finally:
            conn.execute("ROLLBACK TO plan")
            conn.execute("RELEASE plan")
