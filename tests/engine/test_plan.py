"""`queue plan`: the order, loads and evictions `queue run` will have, from the same scheduler query and
residency rules, and estimates from this machine's past jobs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, jobs
from tests.engine.test_engine import TYPES, run_queue, sizes


def _mixed_queue(cli: Callable[..., Result], home: Path) -> None:
    lines = [json.dumps({"type": TYPES[i % 10], "prompt": f"shot {i}", "steps": 1, "seed": i,
                         **({"count": 1} if TYPES[i % 10].startswith("sdxl") else {})}) for i in range(30)]
    (home / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    assert cli("--smoke", "queue", "add", "--file", str(home / "mixed.jsonl")).code == 0


@pytest.mark.parametrize("order", ["smart", "fifo"])
def test_plan_matches_the_run(cli: Callable[..., Result], home: Path, order: str) -> None:
    _mixed_queue(cli, home)
    one = str(sizes(home)["sdxl"] + 1)  # SDXL alone, or Wan with Qwen: loads and evictions all along
    before = [(j["id"], j["status"]) for j in jobs(home)]
    planned = cli("queue", "plan", "--json", "--vram-budget", one, "--order", order)
    assert planned.code == 0, planned.err
    plan = planned.json()
    assert [(j["id"], j["status"]) for j in jobs(home)] == before  # nothing claimed, nothing changed
    assert plan["jobs"] == 30 and plan["jobs_without_history"] == 30 and plan["estimated_s"] is None
    ran = run_queue(home, "--vram-budget", one, "--order", order)
    assert ran["completed"] == 30
    assert plan["model_loads"] == ran["model_loads"] and plan["evictions"] == ran["evictions"]
    assert [s["job_id"] for s in plan["steps"]] == [j["job_id"] for j in ran["jobs"]]
    assert ran["model_loads"] > 3  # the budget made it evict and reload: the plan had something to get right


def test_estimates_come_from_past_jobs(cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    _mixed_queue(cli, home)
    assert run_queue(home)["completed"] == 30
    _mixed_queue(cli, home)
    plan = cli("queue", "plan", "--json").json()
    assert plan["jobs"] == 30 and plan["jobs_without_history"] == 0 and plan["estimated_s"] > 0
    # The same 30 prompts again: Qwen's 12 answers are in the cache, so only SDXL and Wan load.
    assert plan["model_loads"] == 2 and not any(s["enhances"] for s in plan["steps"])
    shown = cli("queue", "plan")
    assert shown.code == 0 and "30 job(s); 2 model load(s), 0 eviction(s); about" in shown.out
    fresh = tmp_path / "fresh"
    shutil.copytree(home, fresh, symlinks=True)
    (fresh / "ledger.db").unlink()
    for suffix in ("-wal", "-shm"):
        (fresh / f"ledger.db{suffix}").unlink(missing_ok=True)
    empty = cli("--home", str(fresh), "queue", "plan", "--json").json()
    assert empty["jobs"] == 0 and empty["model_loads"] == 0


def test_a_load_seen_only_beside_an_enhancement_still_counts(cli: Callable[..., Result], home: Path) -> None:
    # Wan's only load came in a job whose load time also held Qwen's: the model's own load seconds are
    # recorded apart (model_load_s), so the next such job has an estimate however short the load was.
    base = ["--smoke", "queue", "add", "image7b_fast_enhanced", "--steps", "1", "--seed", "1"]
    assert cli(*base[:4], "a red kite", *base[4:]).code == 0
    assert run_queue(home)["completed"] == 1
    assert cli(*base[:4], "a blue kite", *base[4:]).code == 0
    plan = cli("queue", "plan", "--json", "--vram-budget", "1", "--device", "cpu").json()
    assert plan["jobs"] == 1 and plan["steps"][0]["enhances"], plan
    assert plan["jobs_without_history"] == 0 and plan["estimated_s"] > 0, plan
