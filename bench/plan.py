"""`queue plan` on a big backlog: the replay on a snapshot, choosing among each partition's oldest job,
against the plain query over the whole queue at every step, measured in the same run on the same ledger.

Run: python bench/plan.py [--jobs N] [--plain-jobs N]. Builds a ledger of N queued jobs (mixed types,
priorities, enhanced types, some history) through the ledger's own API, times the replay alone and then
`ourvidz queue plan --json` end to end (estimates, residency). The plain query is quadratic, so it is
timed on --plain-jobs (default 2,000) and the ratio is taken at that size. Target: 10,000 jobs planned in
a few seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ourvidz_cli.catalog.load import load_catalog  # noqa: E402
from ourvidz_cli.catalog.resolve import resolve_job  # noqa: E402
from ourvidz_cli.engine.models.smoke import init_smoke  # noqa: E402
from ourvidz_cli.ledger import Ledger  # noqa: E402
from ourvidz_cli.ledger.replay import replay  # noqa: E402
from ourvidz_cli.queue import ClaimOrder, Job, Worker  # noqa: E402

TYPES = ["sdxl_image_fast", "video_fast", "image_high", "sdxl_image_high", "image7b_fast_enhanced",
         "video7b_high_enhanced", "image_fast", "video_high"]


def backlog(home: Path, n: int) -> Ledger:
    rnd = random.Random(1)
    ledger = Ledger(home / "ledger.db")
    cat = load_catalog(home / "smoke" / "models.toml")
    specs = [resolve_job(cat, rnd.choice(TYPES), f"scene {i % 500}", {"seed": i, "priority": rnd.choice([1, 2, 3])})
             for i in range(n + n // 10)]
    ids = ledger.queue.add(specs)
    done = Worker()
    for _ in range(n // 10):
        job = ledger.queue.claim(done, 60, ClaimOrder())
        ledger.queue.complete(job["id"], done, [])
    with ledger.db.write() as conn:
        conn.executemany("UPDATE jobs SET created_at = created_at - ? WHERE id = ?",
                         [(rnd.uniform(0, 36000), i) for i in ids])
    return ledger


def timed_replay(ledger: Ledger, use_heads: bool) -> tuple[float, int]:
    rnd, seen, resident, start = random.Random(2), [0], [""], time.time()

    def on_job(job: Job, asks: bool) -> tuple[float, int]:
        seen[0] += 1
        resident[0] = job["model_key"]
        return rnd.uniform(5, 300), 32 if asks else 0

    t0 = time.perf_counter()
    replay(ledger.db, lambda: ClaimOrder(tuple(r for r in resident if r), 1800, start), on_job, start, use_heads)
    return time.perf_counter() - t0, seen[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--plain-jobs", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        init_smoke(root)
        for n, name in ((args.plain_jobs, "small"), (args.jobs, "big")):
            home = root / name
            home.mkdir()
            (home / "smoke").symlink_to(root / "smoke", target_is_directory=True)
            ledger = backlog(home, n)
            heads_s, count = timed_replay(ledger, True)
            print(f"{count} queued jobs: replay among partition heads {heads_s:.2f}s", flush=True)
            if name == "small":
                plain_s, _ = timed_replay(ledger, False)
                print(f"{count} queued jobs: plain query every step {plain_s:.2f}s; "
                      f"heads/plain = {heads_s / plain_s:.3f}", flush=True)
                continue
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", "queue", "plan", "--json",
                                   "--device", "cpu", "--vram-budget", "20GB"], capture_output=True, text=True,
                                  env={**os.environ, "OURVIDZ_HOME": str(home)})
            assert proc.returncode == 0, proc.stderr
            print(f"{count} queued jobs: 'ourvidz queue plan --json' end to end {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
