"""A warm `ourvidz worker` on the data home, and `generate` handing it jobs: real processes, real tiny
models, the real ledger."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import jobs, spawn, wait_for

HEAVY = ("torch", "diffusers", "transformers")


def _live_workers(home: Path) -> list[dict]:
    proc = spawn(home, "worker", "status", "--json")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [w for w in json.loads(out) if w["alive"]]


def _start_worker(home: Path, *args: str) -> subprocess.Popen[str]:
    proc = spawn(home, "--smoke", "worker", *args)
    wait_for(lambda: proc.poll() is not None or _live_workers(home), timeout=120, what="the worker to be live")
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    return proc


@pytest.fixture
def worker(home: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _start_worker(home)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def _job(home: Path, job_id: int) -> dict:
    return next(j for j in jobs(home) if j["id"] == job_id)


def _pixels(paths: list[str]) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in paths]


def _generate(home: Path, *args: str) -> tuple[int, str, str]:
    proc = spawn(home, "--smoke", "generate", *args)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def test_three_generates_run_in_the_worker_with_the_same_pixels(home: Path, worker) -> None:
    code, out, err = _generate(home, "sdxl_image_fast", "a lighthouse at dawn", "--seed", "5", "--no-worker")
    assert code == 0, err
    here = out.split()
    assert "handed" not in err
    (wid,) = [w["id"] for w in _live_workers(home)]
    for _ in range(3):
        code, out, err = _generate(home, "sdxl_image_fast", "a lighthouse at dawn", "--seed", "5", "--force")
        assert code == 0, err
        assert f"handed to warm worker {wid}" in err
        paths = out.split()
        assert len(paths) == len(here) and all(Path(p).is_file() for p in paths)
        row = _job(home, int(Path(paths[0]).stem.split("_")[0]))
        assert row["worker_pid"] == worker.pid and row["status"] == "completed" and row["priority"] == 0
        assert all((a == b).all() for a, b in zip(_pixels(paths), _pixels(here), strict=True))
        assert "completed in" in err and "generating on cpu" in err  # the worker's progress, replayed
    assert _job(home, 1)["worker_pid"] != worker.pid  # --no-worker ran in its own process
    (status,) = _live_workers(home)
    assert status["pid"] == worker.pid and status["job_id"] is None and status["resident"]


def test_json_is_the_same_object_as_in_process(home: Path, worker) -> None:
    code, out, err = _generate(home, "image_fast", "a fox", "--seed", "3", "--json")
    assert code == 0, err
    handed = json.loads(out)
    code, out, err = _generate(home, "image_fast", "a fox", "--seed", "3", "--json", "--no-worker", "--force")
    assert code == 0, err
    here = json.loads(out)
    assert set(handed) == set(here)
    assert {k: v for k, v in handed.items() if k not in ("job_id", "outputs", "duration_s")} == \
        {k: v for k, v in here.items() if k not in ("job_id", "outputs", "duration_s")}
    assert handed["status"] == "completed"
    assert all((a == b).all() for a, b in zip(_pixels(handed["outputs"]), _pixels(here["outputs"]), strict=True))


def test_hand_off_imports_no_model_library(home: Path, worker, tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    script = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from ourvidz_cli.cli.main import entry\n"
        "sys.argv = ['ourvidz', '--smoke', 'generate', 'sdxl_image_fast', 'a quiet bay']\n"
        "entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "OURVIDZ_HOME": str(home)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "handed to warm worker" in proc.stderr
    loaded = {m.split(".")[0] for m in json.loads(report.read_text())}
    assert not loaded & set(HEAVY)


def test_ctrl_c_cancels_the_handed_job(home: Path, worker) -> None:
    running = spawn(home, "--smoke", "generate", "sdxl_image_fast", "long", "--steps", "500", "--count", "6")
    wait_for(lambda: [j for j in jobs(home) if j["status"] == "running"], what="the first job to run")
    waiting = spawn(home, "--smoke", "generate", "sdxl_image_fast", "behind it", "--count", "1")
    wait_for(lambda: len(jobs(home)) == 2, what="the second job to be queued")
    waiting.send_signal(signal.SIGINT)
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 130, err
    assert "job 2 canceled before it started" in err
    running.send_signal(signal.SIGINT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert "job 1 canceled" in err
    wait_for(lambda: _job(home, 1)["status"] == "canceled", what="the worker to stop job 1")
    assert _job(home, 2)["status"] == "canceled" and _job(home, 2)["started_at"] is None
    assert worker.poll() is None  # the worker goes on
    code, out, err = _generate(home, "sdxl_image_fast", "after", "--count", "1")
    assert code == 0 and _job(home, 3)["worker_pid"] == worker.pid, err


def test_killed_worker_is_reported_and_the_client_finishes_the_job(home: Path) -> None:
    proc = _start_worker(home)
    client = spawn(home, "--smoke", "generate", "sdxl_image_fast", "long", "--steps", "150", "--count", "1",
                   "--seed", "9", "--json")
    wait_for(lambda: (j := jobs(home)) and j[0]["status"] == "running", what="the job to start in the worker")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    out, err = client.communicate(timeout=300)
    assert client.returncode == 0, err
    died = [line for line in err.splitlines() if "died while running job 1" in line]
    assert len(died) == 1 and f"process {proc.pid} is gone" in died[0]
    assert "running it here" in err
    (row,) = jobs(home)
    assert row["status"] == "completed" and row["attempts"] == 2 and row["worker_pid"] == client.pid
    assert json.loads(out)["status"] == "completed"
    assert not _live_workers(home)


def test_stopped_worker_leaves_no_live_row_and_generate_runs_here(home: Path) -> None:
    proc = _start_worker(home)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert not _live_workers(home)
    code, out, err = _generate(home, "sdxl_image_fast", "alone", "--count", "1")
    assert code == 0 and "handed" not in err, err
    assert jobs(home)[0]["worker_pid"] != proc.pid


def test_contradicting_flags_run_here(home: Path, worker) -> None:
    code, out, err = _generate(home, "sdxl_image_fast", "budget", "--count", "1", "--vram-budget", "3GB")
    assert code == 0 and "handed" not in err, err
    assert jobs(home)[0]["worker_pid"] != worker.pid


def test_an_idle_worker_is_woken_by_queue_add_not_its_next_poll(home: Path) -> None:
    proc = _start_worker(home, "--poll", "60")
    try:
        added = spawn(home, "--smoke", "queue", "add", "sdxl_image_fast", "queued", "--count", "1")
        assert added.wait(timeout=60) == 0
        wait_for(lambda: jobs(home)[0]["status"] == "completed", timeout=30, what="the worker to take the job")
        assert jobs(home)[0]["worker_pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
