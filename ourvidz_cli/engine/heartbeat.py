"""The heartbeat: renews a running job's lease from its own thread and queue handle, and notices
cancel requests and lost leases so the runner can stop at its next step."""

from __future__ import annotations

import threading

from ourvidz_cli.queue import JobQueue, Worker


class JobStopped(Exception):
    """Raised at a step boundary when the job was canceled or its lease was lost."""

    def __init__(self, canceled: bool) -> None:
        super().__init__("canceled" if canceled else "lease lost")
        self.canceled = canceled


class Heartbeat(threading.Thread):
    def __init__(self, queue: JobQueue, job_id: int, worker: Worker, lease_s: float) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.queue, self.job_id, self.worker, self.lease_s = queue, job_id, worker, lease_s
        self.stopping = threading.Event()
        self.canceled = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        queue = self.queue.clone()
        try:
            while not self.stopping.wait(self.lease_s / 4):
                try:
                    state = queue.renew(self.job_id, self.worker, self.lease_s)
                except Exception:  # noqa: BLE001  a busy ledger: try again next beat, the lease has slack
                    continue
                if state is None:
                    self.lost.set()
                    return
                if state:
                    self.canceled.set()
        finally:
            queue.close()

    def check(self) -> None:
        if self.lost.is_set():
            raise JobStopped(canceled=False)
        if self.canceled.is_set():
            raise JobStopped(canceled=True)
