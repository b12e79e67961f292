"""Searchable history: `assets list --search` on a ledger of 10,000 completed jobs, with the FTS5 index
(phrases, prefixes, boolean queries, ranked) against the plain substring scan measured in the same run.

Run: python bench/search.py [--jobs N] [--repeat N]. Builds the ledger through the ledger's own API
(jobs resolved from the smoke catalog, each completed with one asset row; no images are rendered), then
times the store's query alone, as `assets list` runs it. Target: an FTS search under 50 ms of query time.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ourvidz_cli.catalog.load import load_catalog  # noqa: E402
from ourvidz_cli.catalog.resolve import resolve_job  # noqa: E402
from ourvidz_cli.engine.models.smoke import init_smoke  # noqa: E402
from ourvidz_cli.ledger import AssetFilter, Ledger  # noqa: E402
from ourvidz_cli.queue import Worker  # noqa: E402

WORDS = ("lighthouse harbour boat storm dawn dusk fox snow forest city neon rain street portrait cat dog "
         "mountain river bridge castle knight dragon robot ship ocean wave sunset sunrise desert canyon "
         "garden flower tree autumn winter summer spring night moon star galaxy planet train station "
         "market crowd dancer violin piano cafe window mirror shadow fog mist cliff island village "
         "temple lantern festival bicycle car truck plane cloud thunder glacier volcano meadow").split()
QUERIES = {
    "phrase": '"red boat"',
    "prefix": "light*",
    "boolean": "storm AND (boat OR ship) NOT night",
    "one word": '"fox"',
}
TARGET_MS = 50.0


def build(home: Path, jobs: int) -> Ledger:
    catalog = load_catalog(init_smoke(home))
    ledger, me, rng = Ledger(home / "ledger.db"), Worker(), random.Random(7)
    for n in range(jobs):
        words = rng.sample(WORDS, rng.randint(6, 14)) + (["red", "boat"] if n % 50 == 0 else [])
        spec = resolve_job(catalog, "sdxl_image_fast", " ".join(words), {"negative": rng.choice(WORDS)})
        job = ledger.queue.add_running(spec, me, 60)
        ledger.queue.complete(job["id"], me, [{"idx": 0, "bucket": "sdxl_image_fast", "kind": "image",
                                               "path": f"outputs/sdxl_image_fast/{job['id']}_0.png",
                                               "mime": "image/png", "bytes": 1, "sha256": "0" * 64}])
    return ledger


def timed(ledger: Ledger, query: str, repeat: int, limit: int | None = 50) -> tuple[float, int]:
    runs, found = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = len(ledger.assets.list(AssetFilter(search=query, limit=limit)))
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ourvidz-search-"))
    try:
        t0 = time.perf_counter()
        ledger = build(home, args.jobs)
        print(f"{args.jobs} completed jobs built in {time.perf_counter() - t0:.1f} s; medians of {args.repeat} "
              "queries")
        for limit, label in ((50, "the first 50 results (as `assets list` shows)"), (None, "every result (--limit 0)")):
            print(f" {label}:")
            base, n = timed(ledger, "lighthouse", args.repeat, limit)
            print(f"  baseline, plain substring 'lighthouse' (scan): {base:7.2f} ms  ({n} results)")
            for name, query in QUERIES.items():
                ms, n = timed(ledger, query, args.repeat, limit)
                verdict = "met" if ms < TARGET_MS else "MISSED"
                print(f"  FTS {name:9} {query!r:38} {ms:7.2f} ms  {ms / base:5.2f}x the scan  ({n} results; "
                      f"target < {TARGET_MS:.0f} ms: {verdict})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
