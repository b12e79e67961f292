"""The heartbeat: renews a running job's lease from its own thread and queue handle, and notices
cancel requests and lost leases so the runner can stop at its next step."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ourvidz_cli.queue import JobQueue, Worker

# How often a cancel request is looked for: a step sees it within this (or within one step, if longer).
CANCEL_POLL_S = 1.0


class JobStopped(Exception):
    """Raised at a step boundary when the job was canceled or its lease was lost."""

    def __init__(self, canceled: bool, reason: str = "") -> None:
        super().__init__(reason or ("canceled" if canceled else "lease lost"))
        self.canceled = canceled
        self.reason = reason


class Heartbeat(threading.Thread):
    """Renews every lease/4 and reads the cancel flag every second in between. Renewal failures are
    reported (the first and every tenth) through `on_problem`; once no renewal has succeeded for a
    whole lease, the lease counts as lost, because another worker may now take the job."""

    def __init__(self, queue: JobQueue, job_id: int, worker: Worker, lease_s: float,
                 on_problem: Callable[[str], None] | None = None) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.queue, self.job_id, self.worker, self.lease_s = queue, job_id, worker, lease_s
        self.on_problem = on_problem or (lambda text: None)
        self.stopping = threading.Event()
        self.canceled = threading.Event()
        self.lost = threading.Event()
        self.lost_reason = ""
        self.failures = 0

    def run(self) -> None:
        queue = self.queue.clone()
        renewed_at = next_renewal = time.monotonic()
        try:
            while not self.stopping.wait(min(CANCEL_POLL_S, self.lease_s / 4)):
                now = time.monotonic()
                if now < next_renewal:
                    self._poll_cancel(queue)
                    continue
                next_renewal = now + self.lease_s / 4
                if self._renew(queue):
                    renewed_at = now
                elif not self.lost.is_set() and now - renewed_at >= self.lease_s:
                    self._lose(f"the lease could not be renewed for {now - renewed_at:.0f}s "
                               f"({self.failures} failed renewal(s)); another worker may take the job")
                if self.lost.is_set():
                    return
        finally:
            queue.close()

    def _poll_cancel(self, queue: JobQueue) -> None:
        try:
            if queue.cancel_requested(self.job_id):
                self.canceled.set()
        except Exception:  # noqa: BLE001  a busy ledger: the next poll or renewal tries again
            pass

    def _renew(self, queue: JobQueue) -> bool:
        try:
            state = queue.renew(self.job_id, self.worker, self.lease_s)
        except Exception as exc:  # noqa: BLE001  a busy or full ledger: retried next beat, within the lease's slack
            self.failures += 1
            if self.failures % 10 == 1:
                self.on_problem(f"lease renewal failed ({self.failures} so far): {type(exc).__name__}: {exc}")
            return False
        if state is None:
            self._lose("the job was taken over by another worker (its lease had expired)")
        elif state:
            self.canceled.set()
        return True

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self.on_problem(f"lease lost: {reason}")
        self.lost.set()

    def check(self) -> None:
        if self.lost.is_set():
            raise JobStopped(canceled=False, reason=self.lost_reason)
        if self.canceled.is_set():
            raise JobStopped(canceled=True)


def settle(write: Callable[[], bool], within_s: float, pause_s: float = 0.5) -> bool:
    """A job's final status write, retried while the ledger is briefly unavailable (locked, a full disk
    freed, a table being migrated) for up to `within_s`; False when it never went through, and the lease
    expiry then hands the job on."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return write()
        except Exception:  # noqa: BLE001  retried; what it was is in the job's log already
            if time.monotonic() > deadline:
                return False
            time.sleep(pause_s)
