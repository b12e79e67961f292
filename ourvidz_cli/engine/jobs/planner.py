"""`queue plan`: what `queue run` will do, without doing it. The order comes from the scheduler's own
query (`Ledger.replay`), the loads and evictions from the engine's own residency rules
(`engine.models.residency`) under the same budget, and the times from this machine's past jobs in the ledger.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.catalog.revisions import pin_config
from ourvidz_cli.engine.models.residency import Residency, load_dtype, model_key, placement
from ourvidz_cli.queue import ClaimOrder, Job

LOADED_S = 0.05  # in ledgers from before model_load_s: a load time above this was a load, not a warm hit


@dataclass
class Step:
    job_id: int
    job_type: str
    model: str
    enhances: bool
    loads: list[str]
    evicts: list[str]
    est_s: float | None  # None: no history for this job type and model


@dataclass
class Plan:
    device: str
    budget_bytes: int
    order: str
    steps: list[Step] = field(default_factory=list)

    @property
    def model_loads(self) -> int:
        return sum(len(s.loads) for s in self.steps)

    @property
    def evictions(self) -> int:
        return sum(len(s.evicts) for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        known = [s.est_s for s in self.steps if s.est_s is not None]
        return {"device": self.device, "budget_bytes": self.budget_bytes, "order": self.order,
                "jobs": len(self.steps), "model_loads": self.model_loads, "evictions": self.evictions,
                "estimated_s": round(sum(known), 1) if known else None,
                "jobs_without_history": len(self.steps) - len(known), "steps": [asdict(s) for s in self.steps]}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _model_load(row: dict[str, Any]) -> float | None:
    """The seconds the job spent loading its own model, if it loaded it (a warm model records 0)."""
    if row["model_load_s"] is not None:
        return row["model_load_s"] if row["model_load_s"] > 0 else None
    # An older row: load_s may include the enhancer's load, and a tiny model's load may look warm.
    if (row["load_s"] or 0) > LOADED_S and (not row["enhancer_key"] or row["enhance_cached"]):
        return float(row["load_s"])
    return None


class Estimates:
    """Medians of this machine's completed jobs: generation and writing per job type and model, a load
    per model, an enhancer call (its load and answer) per enhancer."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        gen, write, load, ask = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
        for r in rows:
            key = (r["type"], r["model_key"])
            gen[key].append(r["generate_s"])
            spent = (r["load_s"] or 0) + r["generate_s"] + (r["enhance_s"] or 0)
            write[key].append(max(0.0, (r["duration_s"] or spent) - spent))
            loaded = _model_load(r)
            if loaded is not None:
                load[r["model_key"]].append(loaded)
            if r["enhancer_key"] and r["enhance_cached"] == 0 and r["enhance_s"] is not None:
                ask[r["enhancer_key"]].append(r["enhance_s"])
        self.gen = {k: _median(v) for k, v in gen.items()}
        self.write = {k: _median(v) for k, v in write.items()}
        self.load = {k: _median(v) for k, v in load.items()}
        self.ask = {k: _median(v) for k, v in ask.items()}

    def job(self, job: Job, loads: list[ModelRef], enhances: bool) -> float | None:
        key = (job["type"], job["model_key"])
        parts = [self.gen.get(key), self.write.get(key)]
        parts += [self.load.get(m.source) for m in loads if m.source == job["model_key"]]
        if enhances:
            parts.append(self.ask.get(job["enhancer_key"]))
        return None if any(p is None for p in parts) else float(sum(parts))  # type: ignore[arg-type]


def device_and_budget(device: str | None, budget: str | None) -> tuple[str, int]:
    """As a run would pick them; torch is asked only for what the options and environment leave open."""
    from ourvidz_cli.engine.models.model_store import parse_bytes

    device = device or os.environ.get("OURVIDZ_DEVICE")
    budget = budget or os.environ.get("OURVIDZ_VRAM_BUDGET")
    if device in (None, "", "auto") or not budget:
        from ourvidz_cli.engine.models.device import pick_device
        from ourvidz_cli.engine.models.manager import device_budget

        device = pick_device(device or None)
        return device, parse_bytes(budget) if budget else device_budget(device)
    return device, parse_bytes(budget)


class Planner:
    def __init__(self, ledger: Any, device: str, budget: int, compile_: bool = False, order: str = "smart",
                 max_wait_s: float = 1800.0, enhance_batch: int = 32) -> None:
        self.ledger, self.device, self.compile = ledger, device, compile_
        self.residency = Residency(budget, split_encoder=device != "cpu")
        self.estimates = Estimates(ledger.queries.timings())
        self.plan = Plan(device, budget, order)
        self.options = (order, max_wait_s, enhance_batch)

    def run(self) -> Plan:
        order, max_wait_s, _ = self.options
        since = time.time()

        def order_now() -> ClaimOrder:
            return ClaimOrder(tuple(key[1] for key in self.residency), max_wait_s, since, order)

        self.ledger.replay(order_now, self._step, since)
        return self.plan

    def _step(self, job: Job, enhances: bool) -> tuple[float, int]:
        config = pin_config(job["config"])  # keyed as the runner will key them
        # A job with reference frames loads VACE's transformer beside its Wan model, as the runner does.
        models = ([config.enhancer] if enhances else []) + [config.model] + ([config.vace] if config.vace else [])
        loads, evicts = [], []
        for model in models:
            key = model_key(model, self.compile)
            if key in self.residency:
                self.residency.touch(key)
                continue
            need, _ = placement(model, load_dtype(model.dtype, self.device), self.residency.budget,
                                self.residency.split_encoder)
            beside = (model_key(config.model, self.compile),) if model is config.vace else ()
            for gone in self.residency.to_evict(need, beside):
                evicts.append(self.residency.pop(gone))
            self.residency.add(key, need, model.name)
            loads.append(model)
        est = self.estimates.job(job, loads, enhances)
        self.plan.steps.append(Step(job["id"], job["type"], config.model.name, enhances, [m.name for m in loads],
                                    evicts, None if est is None else round(est, 2)))
        return est or 0.0, self.options[2] if enhances else 0
