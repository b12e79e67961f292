"""A warm worker's presence in the ledger: a thread that beats its row every second with the models it
holds, and a reporter that records its job's phase and steps there for the client that handed it over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ourvidz_cli.engine.jobs.report import Outcome, Reporter

BEAT_S = 1.0
# Step writes are spaced out: a fast model takes many steps a second, and the client polls at 20 Hz.
STEP_WRITE_S = 0.05


class LocalPresence(threading.Thread):
    """Beats from its own ledger connection, so a long model load on the main thread never looks dead."""

    def __init__(self, ledger_path: Path, worker_id: str, resident: Callable[[], list[str]],
                 register: Callable[[Any], None]) -> None:
        super().__init__(name="worker-presence", daemon=True)
        self.ledger_path, self.worker_id = ledger_path, worker_id
        self.resident, self.register = resident, register
        self.stopping = threading.Event()

    def run(self) -> None:
        from ourvidz_cli.ledger import Ledger

        ledger = Ledger(self.ledger_path)
        try:
            while not self.stopping.wait(BEAT_S):
                try:
                    if not ledger.workers.beat(self.worker_id, list(self.resident())):
                        self.register(ledger.workers)  # the row was pruned while this worker lives
                except Exception:  # noqa: BLE001  a busy ledger: the next beat tries again
                    continue
        finally:
            ledger.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)


class ThreadLedgers:
    """One ledger connection per thread. The reporter is called from the main thread, the job's heartbeat
    and the writer thread; one sqlite3 connection shared by them has one transaction, so a write from a
    second thread while the first is in one failed ('cannot start a transaction within a transaction')."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.opened: list[Any] = []
        self.lock = threading.Lock()

    @property
    def workers(self) -> Any:
        ledger = getattr(self.local, "ledger", None)
        if ledger is None:
            from ourvidz_cli.ledger import Ledger

            ledger = self.local.ledger = Ledger(self.path)
            with self.lock:
                self.opened.append(ledger)
        return ledger.workers

    def close(self) -> None:
        with self.lock:
            for ledger in self.opened:
                ledger.close()
            self.opened.clear()


class RecordingReporter:
    """Passes everything to the worker's own console and records it on the worker's row, through the
    calling thread's own connection. A failed record (a locked or full ledger) never fails the job: the
    client only shows less."""

    def __init__(self, inner: Reporter, ledgers: ThreadLedgers, worker_id: str) -> None:
        self.inner, self.ledgers, self.worker_id = inner, ledgers, worker_id
        self._last_step_write = 0.0
        self._held: int | None = None

    @property
    def workers(self) -> Any:
        return self.ledgers.workers

    def _record(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception:  # noqa: BLE001
            pass

    def job_started(self, job: dict[str, Any]) -> None:
        self.inner.job_started(job)
        self._held = job["id"]
        self._record(lambda: self.workers.holding(self.worker_id, job["id"]))

    def phase(self, text: str) -> None:
        self.inner.phase(text)
        self._record(lambda: self.workers.phase(self.worker_id, text))

    def step(self, done: int, total: int) -> None:
        self.inner.step(done, total)
        now = time.monotonic()
        if done in (1, total) or now - self._last_step_write >= STEP_WRITE_S:
            self._last_step_write = now
            self._record(lambda: self.workers.step(self.worker_id, done, total))

    def job_finished(self, outcome: Outcome) -> None:
        self.inner.job_finished(outcome)
        # With writes overlapped, a job finishes after the next one started: the row keeps the next one.
        if outcome.job_id == self._held:
            self._held = None
            self._record(lambda: self.workers.holding(self.worker_id, None))
