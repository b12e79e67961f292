"""Per job type: volume, success rate, duration percentiles, peak memory and enhancement time,
the figures the seed's operators watched."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ourvidz_cli.ledger import Ledger


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: a value that actually occurred, as an operator would quote it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _summary(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    done = [r for r in rows if r["status"] == "completed"]
    finished = len(done) + by_status.get("failed", 0)
    durations = [r["duration_s"] for r in done if r["duration_s"] is not None]
    peaks = [r["peak_mem_mb"] for r in rows if r["peak_mem_mb"] is not None]
    enhance = [r["enhance_s"] for r in rows if r["enhance_s"] is not None]
    return {
        "type": name,
        "jobs": len(rows),
        "completed": len(done),
        "failed": by_status.get("failed", 0),
        "canceled": by_status.get("canceled", 0),
        "pending": by_status.get("queued", 0) + by_status.get("running", 0),
        "success_rate": round(len(done) / finished, 4) if finished else None,
        "median_s": statistics.median(durations) if durations else None,
        "p95_s": percentile(durations, 95),
        "mean_peak_mem_mb": _mean(peaks),
        "mem_kinds": sorted({r["mem_kind"] for r in rows if r["mem_kind"]}),
        "mean_load_s": _mean([r["load_s"] for r in done if r["load_s"] is not None]),
        "mean_enhance_s": _mean(enhance),
    }


def job_stats(ledger: Ledger, since: float | None = None) -> dict[str, Any]:
    rows = ledger.queries.job_figures(since)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_type.setdefault(r["type"], []).append(r)
    return {
        "types": [_summary(name, by_type[name]) for name in sorted(by_type)],
        "all": _summary("all", rows),
    }
