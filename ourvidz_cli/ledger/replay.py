"""A dry run of the queue: the order `queue run` would take, found by running the scheduler's own query
(`schedule.next_job_query`) on a snapshot of the ledger, so nothing is claimed or changed and no lock is
held: a run writing to the ledger meanwhile is never kept waiting (a plan of 12,000 jobs once held the
write lock for 100 s, and a runner then failed a finished job with 'database is locked').

Each step marks the picked job as started (the smart order groups by when a model last ran) and, when
the job asks Qwen, records placeholder answers for it and for the queued prompts a run would enhance in
the same batch, so later picks see the cache a run would have.

Near-linear: the snapshot keeps only the latest start per model (all the query reads of history, behind
an index), and the query chooses among each partition's oldest job (`schedule.partition`), not the
whole queue; the heads are rebuilt only when placeholder answers move jobs between partitions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import decode_job
from ourvidz_cli.ledger.schedule import PENDING_ENHANCEMENTS, next_job_query, partition, same_partition
from ourvidz_cli.queue import ClaimOrder, Job

# (job, whether it asks the enhancer) -> (seconds it will take, queued prompts its enhancer batch answers)
OnJob = Callable[[Job, bool], tuple[float, int]]
HEADS = "temp.plan_heads"
_QUEUED = "status = 'queued' AND origin IS NULL"


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


def snapshot(db: Database) -> sqlite3.Connection:
    """An in-memory copy of the ledger, read in one WAL snapshot (writers go on meanwhile)."""
    copy = sqlite3.connect(":memory:", isolation_level=None)
    db.conn.backup(copy)
    copy.row_factory = sqlite3.Row
    # Of history the query reads only each model's latest start: keep that, and index it.
    copy.execute("UPDATE jobs SET started_at = NULL WHERE started_at IS NOT NULL AND id NOT IN (SELECT id FROM "
                 "(SELECT id, row_number() OVER (PARTITION BY model_key ORDER BY started_at DESC, id) AS n "
                 "FROM jobs WHERE started_at IS NOT NULL) WHERE n = 1)")
    copy.execute("CREATE INDEX temp_plan_started ON jobs (model_key, started_at) WHERE started_at IS NOT NULL")
    copy.execute("CREATE INDEX temp_plan_partition ON jobs (model_key, priority, created_at, id)")
    copy.execute(f"CREATE TABLE {HEADS} (id INTEGER PRIMARY KEY)")
    return copy


def _rebuild_heads(conn: sqlite3.Connection) -> None:
    conn.execute(f"DELETE FROM {HEADS}")
    conn.execute(f"INSERT INTO {HEADS} SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY {partition()} "
                 f"ORDER BY created_at, id) AS n FROM jobs WHERE {_QUEUED}) WHERE n = 1")


def _next_head(conn: sqlite3.Connection, job: Job) -> None:
    """The picked job's place among the heads goes to the next job of its partition."""
    conn.execute(f"DELETE FROM {HEADS} WHERE id = ?", [job["id"]])
    row = conn.execute(
        f"SELECT j.id FROM jobs j, jobs p WHERE p.id = ? AND j.status = 'queued' AND j.origin IS NULL "
        f"AND (j.created_at, j.id) > (p.created_at, p.id) AND {same_partition('j', 'p')} "
        "ORDER BY j.created_at, j.id LIMIT 1", [job["id"]]).fetchone()
    if row is not None:
        conn.execute(f"INSERT OR IGNORE INTO {HEADS} (id) VALUES (?)", [row["id"]])


def _start(conn: sqlite3.Connection, job: Job, now: float) -> None:
    """Picked: running, and its model's latest start (the one history row the query reads)."""
    conn.execute("UPDATE jobs SET started_at = NULL WHERE model_key IS ? AND started_at IS NOT NULL",
                 [job["model_key"]])
    conn.execute("UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", [now, job["id"]])


def replay(db: Database, order_for: Callable[[], ClaimOrder], on_job: OnJob, start: float,
           use_heads: bool = True) -> None:
    """Hand each queued job to `on_job` in the order claims would take them; `order_for` gives the claim
    order at each step (the models resident then). `use_heads=False` asks the whole queue every step
    (the plain query, quadratic; tests compare the two)."""
    conn, now = snapshot(db), start
    try:
        _rebuild_heads(conn)
        while True:
            sql, args = next_job_query(order_for(), now, HEADS if use_heads else None)
            row = conn.execute(f"SELECT * FROM jobs WHERE id = ({sql})", args).fetchone()
            if row is None:
                return
            job: Job = decode_job(row)  # type: ignore[assignment]
            _start(conn, job, now)
            asks = _asks_enhancer(conn, job)
            seconds, batch = on_job(job, asks)
            if asks:
                _pretend_answered(conn, job, batch)
                _rebuild_heads(conn)
            else:
                _next_head(conn, job)
            now += seconds
    finally:
        conn.close()
