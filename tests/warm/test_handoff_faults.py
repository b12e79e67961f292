"""Issue 25's findings on the hand-off to a warm worker: it runs only where the caller's settings hold,
a paused worker is handed nothing (and a job handed to one is taken back), and Ctrl-C cancels a job the
client took over."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import jobs, spawn, wait_for
from tests.warm.test_handoff import _job, _start_worker


def _stop(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_handed_job_runs_only_on_the_worker_with_the_asked_settings(home: Path) -> None:
    big = _start_worker(home, "--vram-budget", "2GB")
    small = None
    try:
        long = spawn(home, "--smoke", "queue", "add", "sdxl_image_fast", "long", "--steps", "400", "--count", "1")
        assert long.wait(timeout=60) == 0
        wait_for(lambda: _job(home, 1)["status"] == "running", what="the 2GB worker to be busy")
        small = _start_worker(home, "--vram-budget", "1GB")  # idle, but not what the caller asks for
        client = spawn(home, "--smoke", "generate", "sdxl_image_fast", "mine", "--count", "1", "--vram-budget", "2GB")
        wait_for(lambda: len(jobs(home)) == 2, what="the hand-off")
        time.sleep(4)  # two polls of the idle 1GB worker
        assert _job(home, 2)["status"] == "queued"  # waiting for the worker it was handed to
        assert spawn(home, "queue", "cancel", "1").wait(timeout=60) == 0  # the 2GB worker is free sooner
        out, err = client.communicate(timeout=240)
        assert client.returncode == 0, err
        assert "handed to warm worker" in err and _job(home, 2)["worker_pid"] == big.pid
    finally:
        _stop(*(p for p in (big, small) if p is not None))


def test_a_paused_worker_is_handed_nothing_and_a_job_handed_to_it_is_taken_back(home: Path) -> None:
    worker = _start_worker(home)
    try:
        worker.send_signal(signal.SIGSTOP)  # it still looks alive for a few seconds
        client = spawn(home, "--smoke", "generate", "sdxl_image_fast", "first", "--count", "1")
        out, err = client.communicate(timeout=120)
        assert client.returncode == 0, err
        assert "handed to warm worker" in err and "taken back" in err
        assert _job(home, 1)["status"] == "completed" and _job(home, 1)["worker_pid"] == client.pid
        client = spawn(home, "--smoke", "generate", "sdxl_image_fast", "second", "--count", "1")
        out, err = client.communicate(timeout=120)  # its beat is stale now: not handed at all
        assert client.returncode == 0 and "handed" not in err, err
    finally:
        _stop(worker)


def test_ctrl_c_after_the_client_took_the_job_over_cancels_it(home: Path) -> None:
    worker = _start_worker(home)
    client = spawn(home, "--smoke", "generate", "sdxl_image_fast", "long", "--steps", "400", "--count", "1")
    wait_for(lambda: (j := jobs(home)) and j[0]["status"] == "running", what="the job to start in the worker")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    wait_for(lambda: _job(home, 1)["status"] == "running" and _job(home, 1)["worker_pid"] == client.pid,
             timeout=120, what="the client to take the job over")
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=60)
    assert client.returncode == 130, err
    assert _job(home, 1)["status"] == "canceled"
