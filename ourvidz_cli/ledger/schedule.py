"""The scheduler's query: which queued job runs next. `queue run`'s claims and `queue plan`'s replay
both use it, so the plan is the run's order."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.queue import ClaimOrder

# Rows with an `origin` belong to a remote queue: only that queue hands them out. A job handed to one
# warm worker (`assigned_to`) is that worker's while it beats (workers.STALE_AFTER_S), so a hand-off never
# runs on a worker with other settings; after that anyone may run it, so it is never stranded.
_MINE = ("(jobs.assigned_to IS NULL OR jobs.assigned_to = ? OR NOT EXISTS "
         "(SELECT 1 FROM workers w WHERE w.id = jobs.assigned_to AND w.beat_at > ?))")


def _pick_fifo(source: str) -> str:
    return (f"SELECT jobs.id FROM {source} WHERE jobs.status = 'queued' AND jobs.origin IS NULL AND {_MINE} "
            "ORDER BY jobs.created_at, jobs.id LIMIT 1")


def _pick_smart(resident: int, source: str) -> str:
    """A job's wait counts from the latest of: when it was queued, when this claimer began (`since`),
    and when a job of its model last started. So a backlog queued hours ago does not all 'starve' at
    once and fall back to FIFO; only a model left unserved behind other work for `max_wait_s` does."""
    marks = ", ".join("?" for _ in range(resident))
    waited_from = "max(jobs.created_at, ?, coalesce(served.at, 0))"
    return f"""
        WITH served AS (SELECT model_key, max(started_at) AS at FROM jobs
                        WHERE started_at IS NOT NULL GROUP BY model_key)
        SELECT jobs.id FROM {source} LEFT JOIN served ON served.model_key = jobs.model_key
        WHERE jobs.status = 'queued' AND jobs.origin IS NULL AND {_MINE}
        ORDER BY {waited_from} < ? DESC, CASE WHEN {waited_from} < ? THEN {waited_from} END,
            jobs.priority,
            (jobs.model_key NOT IN ({marks}))
              + (jobs.enhancer_key IS NOT NULL AND jobs.enhanced_prompt IS NULL AND jobs.enhancer_key NOT IN ({marks})
                 AND NOT EXISTS (SELECT 1 FROM enhancements e WHERE e.key = jobs.enhance_key)),
            jobs.created_at, jobs.id
        LIMIT 1"""


PENDING_ENHANCEMENTS = (
    "SELECT * FROM jobs WHERE status = 'queued' AND origin IS NULL AND enhancer_key IS NOT NULL "
    "AND enhanced_prompt IS NULL AND NOT EXISTS (SELECT 1 FROM enhancements e WHERE e.key = jobs.enhance_key) "
    "ORDER BY priority, created_at, id LIMIT ?")


# The key above orders the jobs of one partition (same model, priority, enhancer and its state, hand-off)
# by age alone, so the next job is always the oldest of some partition: the plan's replay asks only
# among those heads (ledger.replay), which keeps a 10,000-job plan from re-sorting the queue every step.
_PARTITION_TERMS = ("{t}.model_key", "{t}.priority", "{t}.enhancer_key", "{t}.enhanced_prompt IS NULL",
                    "{t}.assigned_to", "{t}.enhancer_key IS NOT NULL AND {t}.enhanced_prompt IS NULL AND "
                    "EXISTS (SELECT 1 FROM enhancements e WHERE e.key = {t}.enhance_key)")


def partition(table: str = "jobs") -> str:
    """The partition's terms, for PARTITION BY."""
    return ", ".join(f"({term.format(t=table)})" for term in _PARTITION_TERMS)


def same_partition(a: str, b: str) -> str:
    """Rows `a` and `b` share a partition (NULL-safe)."""
    return " AND ".join(f"({term.format(t=a)}) IS ({term.format(t=b)})" for term in _PARTITION_TERMS)


def next_job_query(order: ClaimOrder, now: float, heads: str | None = None) -> tuple[str, list[Any]]:
    """The scheduler: a query for the id of the job to run next at time `now` (claims and plans use it);
    `heads` names a table of candidate ids (each partition's oldest job) to choose among."""
    from ourvidz_cli.ledger.workers import STALE_AFTER_S

    mine = [order.worker or "", now - STALE_AFTER_S]
    # CROSS JOIN keeps SQLite's order: from the few heads, not from the status index over the whole queue.
    source = f"{heads} AS heads CROSS JOIN jobs ON jobs.id = heads.id" if heads else "jobs"
    if order.order == "fifo":
        return _pick_fifo(source), mine
    starve = now - order.max_wait_s if order.max_wait_s is not None else -1.0
    since = order.since or 0.0
    return _pick_smart(len(order.resident), source), [*mine, since, starve, since, starve, since, *order.resident,
                                              *order.resident]
