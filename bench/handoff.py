"""Warm between commands: `ourvidz --smoke generate TYPE ... --seed N` run in its own process vs handed
to a warm `ourvidz worker` on the same data home, paired in one run (alternating, so drift hits both).

Run: python bench/handoff.py [--rounds N] [--type image_fast] [--keep]. Builds the smoke models in a
temp home, starts a worker, warms it with one job, then times each pair of calls as a script sees them
(process start to exit). Target: the hand-off call at most 0.25x the in-process call on the smoke
profile on a CPU machine, where the cold part is importing torch and diffusers; on a GPU the model
load disappears as well. Each pair's outputs are compared pixel for pixel.
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

import numpy as np
from PIL import Image

TARGET = 0.25


def ourvidz(home: Path, *args: str) -> tuple[float, dict]:
    env = {**os.environ, "OURVIDZ_HOME": str(home)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", *args], env=env, capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"ourvidz {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else {}


def live(home: Path) -> list[dict]:
    return [w for w in ourvidz(home, "worker", "status", "--json")[1] if w["alive"]]


def same_pixels(a: list[str], b: list[str]) -> bool:
    def arrays(paths: list[str]) -> list[np.ndarray]:
        return [np.asarray(Image.open(p)) for p in paths]

    return len(a) == len(b) and all((x == y).all() for x, y in zip(arrays(a), arrays(b), strict=True))


def start_worker(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "ourvidz_cli", "--smoke", "worker"],
                            env={**os.environ, "OURVIDZ_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not live(home):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--type", default="image_fast")
    parser.add_argument("--keep", action="store_true", help="Keep the temp home.")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ourvidz-handoff-"))
    # --force: the same request repeated would otherwise be answered from the first one's files.
    call = ("generate", args.type, "a lighthouse at dawn", "--seed", "7", "--json", "--force")
    worker = None
    try:
        ourvidz(home, *call, "--no-worker")  # builds the smoke models; not timed
        worker = start_worker(home)
        ourvidz(home, *call)  # the worker loads the model once; not timed
        here_s, handed_s, job_s, identical = [], [], [], True
        for _ in range(args.rounds):
            wall, here = ourvidz(home, *call, "--no-worker")
            here_s.append(wall)
            wall, handed = ourvidz(home, *call)
            handed_s.append(wall)
            job_s.append(handed["duration_s"])
            identical &= same_pixels(here["outputs"], handed["outputs"])
        report(args, here_s, handed_s, job_s, identical)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def report(args: argparse.Namespace, here_s: list[float], handed_s: list[float], job_s: list[float],
           identical: bool) -> None:
    here, handed, job = statistics.median(here_s), statistics.median(handed_s), statistics.median(job_s)
    ratio = handed / here
    print(f"ourvidz --smoke generate {args.type} ... --seed 7, {args.rounds} paired rounds (medians)")
    print(f"  in-process (--no-worker):  {here:6.2f} s")
    print(f"  handed to a warm worker:   {handed:6.2f} s   (the job itself {job:.2f} s in the worker, "
          f"client and hand-off {handed - job:.2f} s)")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"  ratio hand-off / in-process: {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    print(f"  outputs identical pixel for pixel in every pair: {identical}")


if __name__ == "__main__":
    main()
