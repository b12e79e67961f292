"""The smart claim order over a backlog: an old queue keeps grouping by model, and the no-starvation
bound still lets a lone job of another model through once it has waited behind other work too long."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ourvidz_cli.catalog.load import load_catalog
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.queue import ClaimOrder, Worker
from tests.conftest import Result

MIXED = ["sdxl_image_fast", "video_fast", "image_high", "sdxl_image_high", "image_fast", "video_high"]


def _queue(home: Path, types: list[str], age_s: float, ledger_name: str = "ledger.db") -> Ledger:
    ledger = Ledger(home / ledger_name)
    cat = load_catalog(home / "smoke" / "models.toml")
    ids = ledger.queue.add([resolve_job(cat, t, f"scene {i}", {"seed": i}) for i, t in enumerate(types)])
    with ledger.db.write() as conn:
        conn.execute(f"UPDATE jobs SET created_at = created_at - ? WHERE id IN ({','.join('?' * len(ids))})",
                     [age_s, *ids])
    return ledger


def _loads_one_model_at_a_time(ledger: Ledger) -> int:
    """Claim until empty as a runner whose budget holds one model does; count the model loads."""
    worker, resident, loads, since = Worker(), "", 0, time.time()
    while (job := ledger.queue.claim(worker, 60, ClaimOrder((resident,) if resident else (), 1800, since))):
        if job["model_key"] != resident:
            loads, resident = loads + 1, job["model_key"]
        ledger.queue.complete(job["id"], worker, [])
    return loads


def test_an_aged_backlog_groups_by_model_like_a_fresh_one(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    types = [MIXED[i % len(MIXED)] for i in range(30)]
    fresh = _loads_one_model_at_a_time(_queue(home, types, 0))
    aged = _loads_one_model_at_a_time(_queue(home, types, 3600, "aged.db"))  # every job queued an hour ago
    assert fresh <= 4
    assert aged <= fresh


def _age(ledger: Ledger, job_id: int, age_s: float) -> None:
    with ledger.db.write() as conn:
        conn.execute("UPDATE jobs SET created_at = ? WHERE id = ?", [time.time() - age_s, job_id])


def test_a_lone_job_of_another_model_runs_once_it_waited_past_the_bound(home: Path,
                                                                         cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    ledger = _queue(home, ["video_fast"] * 4, 3600)
    wan = ledger.queue.claim(Worker(), 60, ClaimOrder())["model_key"]  # the run serves Wan now ...
    since = time.time() - 2400  # ... and started 40 minutes ago
    (lone,) = ledger.queue.add([resolve_job(load_catalog(home / "smoke" / "models.toml"), "sdxl_image_high", "x", {})])
    _age(ledger, lone, 600)  # behind Wan work for 10 minutes: within the bound, Wan keeps going
    assert ledger.queue.claim(Worker(), 60, ClaimOrder((wan,), 1800, since))["model_key"] == wan
    _age(ledger, lone, 2100)  # 35 minutes: past the bound, it runs next whatever its priority or model
    assert ledger.queue.claim(Worker(), 60, ClaimOrder((wan,), 1800, since))["id"] == lone
