"""Past one GPU: the shared queue's own cost per job, and throughput with 1, 2 and 4 workers.

Run: python bench/scaleout.py [--jobs N] [--queue-jobs N]. Starts its own redis-server on loopback
(persistence off) and the Upstash-REST adapter from tests/support in front of it.

1. Queue cost per job: the round trips one worker makes for a job (claim, a lease renewal, the two
   fence checks, commit, finalize), timed per job on both transports, with a bare PING round trip
   measured in the same run as the baseline. Target: under 5 ms on loopback Redis, i.e. under 0.1%
   of the shortest real SDXL job (the seed's sdxl_image_fast: 6 images at 3-8 s each = 18 s at least).
2. Throughput: N tiny smoke jobs drained by 1, 2 and 4 `ourvidz worker` processes (each its own
   --home, --local-results), as jobs per second and as a ratio to one worker. The tiny jobs are CPU
   work: on a machine with fewer cores than workers the ratio shows the cores, not the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ourvidz_cli.remote.redis_queue import RedisQueue  # noqa: E402
from ourvidz_cli.remote.transport import open_transport  # noqa: E402
from tests.support.redis_server import RedisServer, UpstashRest  # noqa: E402

TOKEN = "bench-token"
SDXL_FAST_MIN_S = 18.0


def item(n: int) -> str:
    return json.dumps({"id": f"bench-{n}", "type": "sdxl_image_fast", "prompt": "p", "config": {},
                       "created_at": "2026-11-26T00:00:00Z", "status": "queued"})


def queue_cost(url: str, jobs: int) -> tuple[float, float]:
    """(median ms of one PING, median ms of one job's queue steps)."""
    q = RedisQueue(open_transport(url))
    q.t.execute("FLUSHALL")
    pings = []
    for _ in range(200):
        t0 = time.perf_counter()
        q.t.execute("PING")
        pings.append(time.perf_counter() - t0)
    q.push("sdxl_queue", [item(n) for n in range(jobs)])
    per_job = []
    for _ in range(jobs):
        t0 = time.perf_counter()
        c = q.claim("sdxl_queue", "bench-worker", 120)
        assert c is not None and c.state == "ok"
        q.renew(c.job_id, c.raw, c.holder, 120)
        q.holds(c.job_id, c.raw, c.holder, 120)  # the runner's complete()
        q.holds(c.job_id, c.raw, c.holder, 120)  # before the upload
        assert q.commit(c.job_id, c.raw, c.holder, '{"status":"completed"}', 120)
        q.finalize(c.raw, c.job_id, c.holder)
        per_job.append(time.perf_counter() - t0)
    q.t.close()
    return statistics.median(pings) * 1000, statistics.median(per_job) * 1000


def drain(url: str, workers: int, jobs: int, root: Path, env: dict[str, str]) -> float:
    """Seconds for `workers` processes to drain `jobs` tiny jobs, from the first start to the last exit."""
    subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", "--home", str(root / "producer"), "queue", "add",
                    "--file", str(root / "jobs.jsonl"), "--queue", url], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # One machine stands in for several here: split its cores, or OpenMP threads of every worker spin
    # against each other and the figure measures oversubscription, not the queue.
    env = {**env, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "ourvidz_cli", "--smoke", "--home", str(root / f"w{workers}-{i}"),
                               "worker", "--queue", url, "--drain", "--poll", "0.1", "--local-results"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=24, help="tiny jobs per throughput run")
    ap.add_argument("--queue-jobs", type=int, default=500, help="jobs for the queue-cost run")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ourvidz-scaleout-"))
    server = RedisServer(root / "redis").start()
    rest = UpstashRest(server.url, TOKEN).start()
    env = {**os.environ, "UPSTASH_REDIS_REST_TOKEN": TOKEN}
    os.environ["UPSTASH_REDIS_REST_TOKEN"] = TOKEN
    try:
        print(f"queue cost per job ({args.queue_jobs} jobs; claim + renew + 2 fence checks + commit + finalize)")
        for name, url in (("redis-py", server.url), ("upstash-rest", rest.url)):
            ping, job = queue_cost(url, args.queue_jobs)
            print(f"  {name:13s} {job:6.2f} ms/job = {job / ping:4.1f} x one PING ({ping:.3f} ms); "
                  f"{job / 1000 / SDXL_FAST_MIN_S:.4%} of an 18 s SDXL job")
        (root / "jobs.jsonl").write_text("".join(json.dumps({"type": "sdxl_image_fast", "prompt": f"p{n}",
                                                             "steps": 2, "count": 1}) + "\n" for n in range(args.jobs)))
        print(f"throughput: {args.jobs} tiny smoke jobs, {os.cpu_count()} CPU core(s), redis-py transport")
        base = None
        for workers in (1, 2, 4):
            server.client().flushall()
            wall = drain(server.url, workers, args.jobs, root, env)
            base = base or wall
            print(f"  {workers} worker(s): {wall:6.1f} s, {args.jobs / wall:5.2f} jobs/s, "
                  f"{base / wall:4.2f}x one worker")
    finally:
        rest.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
