"""`queue plan`'s replay (issue 25, finding 18): it holds no lock while it replays, and asking only among
each partition's oldest job gives exactly the order the plain query gives, step by step."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ourvidz_cli.catalog.load import load_catalog
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.queue import ClaimOrder, Job, Worker
from tests.conftest import Result

TYPES = ["sdxl_image_fast", "video_fast", "image_high", "sdxl_image_high", "image7b_fast_enhanced",
         "video7b_high_enhanced", "image_fast"]


def _backlog(home: Path, n: int) -> Ledger:
    rnd = random.Random(7)
    ledger = Ledger(home / "ledger.db")
    cat = load_catalog(home / "smoke" / "models.toml")
    prompts = [f"scene {i % 40}" for i in range(n)]  # repeats: enhanced jobs share cached answers
    specs = [resolve_job(cat, rnd.choice(TYPES), p, {"seed": i, "priority": rnd.choice([1, 1, 2, 3])})
             for i, p in enumerate(prompts)]
    ids = ledger.queue.add(specs)
    done = Worker()
    for _ in range(n // 10):  # some history: when each model last ran
        job = ledger.queue.claim(done, 60, ClaimOrder())
        ledger.queue.complete(job["id"], done, [])
    with ledger.db.write() as conn:
        for i in ids:
            conn.execute("UPDATE jobs SET created_at = created_at - ? WHERE id = ?", [rnd.uniform(0, 7200), i])
        conn.execute("UPDATE jobs SET assigned_to = 'a-worker-long-gone' WHERE id % 17 = 0 AND status = 'queued'")
    return ledger


def _order(ledger: Ledger, use_heads: bool) -> list[int]:
    from ourvidz_cli.ledger.replay import replay

    rnd, order, resident, start = random.Random(3), [], [""], time.time()

    def order_for() -> ClaimOrder:
        return ClaimOrder(tuple(r for r in resident if r), 900, start)

    def on_job(job: Job, asks: bool) -> tuple[float, int]:
        order.append(job["id"])
        resident[0] = job["model_key"]
        return rnd.uniform(5, 400), 6 if asks else 0

    replay(ledger.db, order_for, on_job, start, use_heads=use_heads)
    return order


def test_the_heads_give_the_plain_querys_order(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    ledger = _backlog(home, 400)
    fast, plain = _order(ledger, True), _order(ledger, False)
    assert len(plain) == 360 and fast == plain


def test_a_plan_holds_no_lock_a_run_would_wait_for(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    ledger = _backlog(home, 200)
    writes: list[float] = []

    def runner_writes() -> None:  # a runner finishing jobs while the plan replays
        conn = sqlite3.connect(home / "ledger.db", timeout=2)
        for _ in range(20):
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE jobs SET error = 'x' WHERE id = 1")
            conn.execute("COMMIT")
            writes.append(time.perf_counter() - t0)
            time.sleep(0.01)
        conn.close()

    def slow_step(job: Job, asks: bool) -> tuple[float, int]:
        time.sleep(0.01)
        return 10.0, 0

    thread = threading.Thread(target=runner_writes)
    thread.start()
    from ourvidz_cli.ledger.replay import replay

    replay(ledger.db, lambda: ClaimOrder(), slow_step, time.time())
    thread.join()
    assert len(writes) == 20 and max(writes) < 1.0  # never waited on the plan
