"""Writing overlaps rendering: a job's outputs are written on the writer thread while the next job
renders, and a job is completed only once its files are durable, so a crash between the two leaves it
to be re-run, never completed without files."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, jobs, spawn, wait_for
from tests.engine.test_engine import run_queue


def _add(cli: Callable[..., Result], prompt: str, seed: int) -> None:
    assert cli("--smoke", "queue", "add", "sdxl_image_fast", prompt, "--seed", str(seed), "--steps", "1",
               "--count", "1").code == 0


def test_the_next_job_renders_while_the_last_one_is_written(cli: Callable[..., Result], home: Path) -> None:
    for seed in (1, 2, 3):
        _add(cli, f"a lighthouse {seed}", seed)
    ran = run_queue(home, env={"OURVIDZ_FAULT_SLOW_WRITE": "1.5"})
    assert ran["completed"] == 3 and [j["job_id"] for j in ran["jobs"]] == [1, 2, 3]
    first, second, third = jobs(home)
    # Job 2 was claimed and rendered while job 1's files were still being written, and so on.
    assert second["started_at"] < first["finished_at"] and third["started_at"] < second["finished_at"]
    for job in (first, second, third):
        shown = cli("jobs", "show", str(job["id"]), "--json").json()
        assert [Path(o["path"]).is_file() for o in shown["outputs"]] == [True]


def test_a_crash_before_the_files_are_durable_leaves_the_job_to_rerun(cli: Callable[..., Result],
                                                                       home: Path) -> None:
    _add(cli, "a harbour", 7)
    proc = spawn(home, "queue", "run", OURVIDZ_FAULT_SLOW_WRITE="60")
    log = home / "logs" / "1.log"
    wait_for(lambda: log.is_file() and "measures:" in log.read_text(), timeout=120, what="job 1 rendered")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    job = jobs(home)[0]
    assert job["status"] == "running" and job["finished_at"] is None  # rendered, never completed
    assert not list((home / "outputs").rglob("1_*.png"))
    assert cli("jobs", "show", "1", "--json").json()["outputs"] == []
    again = run_queue(home)  # the holder's pid is dead: the job is reaped and rendered again
    assert again["completed"] == 1
    shown = cli("jobs", "show", "1", "--json").json()
    assert shown["status"] == "completed" and Path(shown["outputs"][0]["path"]).is_file()
