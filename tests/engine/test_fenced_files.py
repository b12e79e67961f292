"""An attempt writes its files under names no other attempt uses and moves them into place only once it
holds the job, inside the step that completes it (issue 25, finding 13); a job that failed after a kill
between that move and the record keeps no files (finding 19)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ourvidz_cli.app import App, Settings
from ourvidz_cli.cli.run import RunFlags, make_runner
from ourvidz_cli.queue import COMPLETED, ClaimOrder, Worker
from tests.conftest import db


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_holder_paused_past_its_lease_never_touches_the_winners_files(home: Path) -> None:
    app = App(Settings(home=home, smoke=True))
    [job_id] = app.ledger.queue.add([app.resolve("sdxl_image_fast", "a lighthouse", {"steps": 2, "count": 2})])
    paused = make_runner(app, RunFlags(), worker=Worker())
    attempt = paused.begin(paused.queue.claim(paused.worker, paused.lease_s, ClaimOrder()))
    paused.render(attempt)
    attempt.settle_beat()  # paused right after its last lease check: it renews nothing more
    attempt.result.images = [Image.fromarray(255 - np.asarray(i)) for i in attempt.result.images]
    db(home).execute("UPDATE jobs SET lease_expires_at = ? WHERE id = ?", [time.time() - 1, job_id])

    winner = make_runner(app, RunFlags(), worker=Worker())
    assert winner.queue.reap(winner.worker) == [(job_id, "queued")]
    outcome = winner.run(winner.queue.claim(winner.worker, winner.lease_s, ClaimOrder()))
    assert outcome.status == COMPLETED
    recorded = {a["path"]: a["sha256"] for a in app.ledger.assets.for_job(job_id)}

    paused.guard(attempt, paused._write)  # it resumes and writes
    assert attempt.outcome.status != COMPLETED
    assert {p: _sha(home / p) for p in recorded} == recorded  # the winner's files, as the ledger says
    folder = home / "outputs" / "sdxl_image_fast"
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(p).name for p in recorded)


def test_a_job_failed_after_its_worker_died_keeps_no_files(home: Path, smoke_root: Path) -> None:
    app = App(Settings(home=home, smoke=True))
    [job_id] = app.ledger.queue.add([app.resolve("sdxl_image_fast", "killed", {"steps": 2, "count": 1,
                                                                               "max_attempts": 1})])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = Worker(pid=gone.pid)
    assert app.ledger.queue.claim(dead, 120, ClaimOrder())["id"] == job_id
    # Killed after moving its file into place, before the step that records it committed.
    orphan = home / "outputs" / "sdxl_image_fast" / f"{job_id}_0.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"not recorded")
    result = subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", "queue", "run", "--json"],
                            capture_output=True, text=True, env={**os.environ, "OURVIDZ_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    row = app.ledger.jobs.get(job_id)
    assert row["status"] == "failed" and app.ledger.assets.for_job(job_id) == []
    assert not orphan.exists()
