"""Startup cost of everyday commands against a bare interpreter, on a ledger of 10,000 jobs.

Run: python bench/startup.py [--runs N]. Prints medians and each command's overhead over
`python -c pass` measured in the same run (absolute times on a shared machine mean little).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ourvidz_cli.catalog.load import load_catalog, packaged_catalog_path
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.ledger import Ledger


def median_seconds(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        catalog = load_catalog(packaged_catalog_path())
        specs = [resolve_job(catalog, "sdxl_image_fast", f"prompt {i}") for i in range(args.jobs)]
        Ledger(home / "ledger.db").queue.add(specs)
        env = {**os.environ, "OURVIDZ_HOME": str(home)}
        ourvidz = [sys.executable, "-m", "ourvidz_cli"]
        base = median_seconds([sys.executable, "-c", "pass"], env, args.runs)
        rows = [
            ("python -c pass", base),
            ("ourvidz --help", median_seconds([*ourvidz, "--help"], env, args.runs)),
            (f"ourvidz queue list ({args.jobs} jobs)", median_seconds([*ourvidz, "queue", "list"], env, args.runs)),
            ("ourvidz queue list --json", median_seconds([*ourvidz, "queue", "list", "--json"], env, args.runs)),
            ("ourvidz jobs show 5000", median_seconds([*ourvidz, "jobs", "show", "5000"], env, args.runs)),
        ]
    print(f"{'command':<40} {'median s':>9} {'over python':>12} {'ratio':>7}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>9.3f} {seconds - base:>+12.3f} {seconds / base:>6.1f}x")
    print("target (issue 3): under 0.25 s over the interpreter")


if __name__ == "__main__":
    main()
