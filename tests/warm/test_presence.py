"""The worker's row says which job it holds, for `worker status` and for clients replaying progress. With
writes overlapped, job N finishes after job N+1 started: the row must keep N+1."""

from __future__ import annotations

from pathlib import Path

from ourvidz_cli.engine.report import Outcome, SilentReporter
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.queue import Worker
from ourvidz_cli.warm.presence import RecordingReporter


def test_an_overlapped_finish_does_not_clear_the_next_job(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    me = Worker()
    ledger.workers.register(me, ["sdxl_image_fast"], {}, None)
    reporter = RecordingReporter(SilentReporter(), ledger.workers, me.id)
    job = {"type": "sdxl_image_fast", "prompt": "x"}
    reporter.job_started({**job, "id": 1})
    reporter.job_started({**job, "id": 2})  # job 1's files are still being written
    reporter.job_finished(Outcome(1, "sdxl_image_fast", "completed"))
    assert ledger.workers.get(me.id)["job_id"] == 2
    reporter.job_finished(Outcome(2, "sdxl_image_fast", "completed"))
    assert ledger.workers.get(me.id)["job_id"] is None
