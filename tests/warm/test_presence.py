"""The worker's row says which job it holds, for `worker status` and for clients replaying progress. With
writes overlapped, job N finishes after job N+1 started: the row must keep N+1."""

from __future__ import annotations

import threading
from pathlib import Path

from ourvidz_cli.engine.jobs.report import Outcome, SilentReporter
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.queue import Worker
from ourvidz_cli.warm.presence import RecordingReporter, ThreadLedgers


def test_an_overlapped_finish_does_not_clear_the_next_job(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    me = Worker()
    ledger.workers.register(me, ["sdxl_image_fast"], {}, None)
    reporter = RecordingReporter(SilentReporter(), ThreadLedgers(ledger.path), me.id)
    job = {"type": "sdxl_image_fast", "prompt": "x"}
    reporter.job_started({**job, "id": 1})
    reporter.job_started({**job, "id": 2})  # job 1's files are still being written
    reporter.job_finished(Outcome(1, "sdxl_image_fast", "completed"))
    assert ledger.workers.get(me.id)["job_id"] == 2
    reporter.job_finished(Outcome(2, "sdxl_image_fast", "completed"))
    assert ledger.workers.get(me.id)["job_id"] is None


def test_reports_from_other_threads_are_recorded_while_the_main_thread_writes(tmp_path: Path) -> None:
    """The heartbeat and writer threads report too. Through the main thread's connection, a report made
    while that connection was inside a transaction failed ('cannot start a transaction within a
    transaction') and was lost, or broke the main thread's write."""
    ledger = Ledger(tmp_path / "ledger.db")
    me = Worker()
    ledger.workers.register(me, ["sdxl_image_fast"], {}, None)
    reporter = RecordingReporter(SilentReporter(), ThreadLedgers(ledger.path), me.id)
    reporter.phase("on the main thread")
    errors: list[BaseException] = []

    def heartbeat() -> None:
        try:
            reporter.phase("lease renewal failed (1 so far)")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with ledger.db.write() as conn:  # the main thread mid-transaction (a claim, a complete)
        thread = threading.Thread(target=heartbeat)
        thread.start()
        thread.join(0.3)
        conn.execute("UPDATE workers SET step = 1 WHERE id = ?", [me.id])
    thread.join(10)
    assert not errors and ledger.workers.get(me.id)["phase"] == "lease renewal failed (1 so far)"
    assert ledger.workers.get(me.id)["step"] == 1
