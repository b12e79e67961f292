"""Many processes opening one ledger that does not exist yet: a worker and `worker status` started
together on a new home (CI once failed one of them with 'database is locked')."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from ourvidz_cli.ledger.db import SCHEMA_VERSION, Database


def _open(path: str, answers: multiprocessing.Queue) -> None:
    try:
        db = Database(Path(path))
        answers.put(db.conn.execute("PRAGMA user_version").fetchone()[0])
    except Exception as exc:  # noqa: BLE001 - the parent reports whatever one process met
        answers.put(repr(exc))


def test_processes_opening_a_new_ledger_together_all_get_it(tmp_path: Path) -> None:
    forked = multiprocessing.get_context("fork")
    for round_no in range(60):
        path = str(tmp_path / f"home{round_no}" / "ledger.db")
        answers = forked.Queue()
        procs = [forked.Process(target=_open, args=(path, answers)) for _ in range(5)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        got = [answers.get(timeout=5) for _ in procs]
        assert got == [SCHEMA_VERSION] * len(procs), f"round {round_no}: {got}"
