"""The output writer: one thread that encodes and writes a finished job's files (PNG/MP4, sha256, fsync)
and records the job completed, while the runner renders the next job on the device.

Depth one: the runner waits for the previous job's write before it hands over the next, so at most one
job's pixels wait in memory and jobs finish in the order they ran. A job is recorded completed only
after its files are durable; a crash in between leaves it running under a lease that expires (or a dead
pid the next run sees), so it is re-run, never completed without files.

OURVIDZ_FAULT_SLOW_WRITE=SECONDS delays every write by that long, so a test can watch the overlap and
kill a process with a job rendered but not yet written. OURVIDZ_OVERLAP_WRITES=0 writes each job before
the next is claimed (the benchmarks' baseline; a way to rule the overlap out when debugging).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ourvidz_cli.engine.jobs.report import Outcome


def fault_delay() -> None:
    delay = float(os.environ.get("OURVIDZ_FAULT_SLOW_WRITE", "0") or 0)
    if delay > 0:
        time.sleep(delay)


class OutputWriter:
    def __init__(self, on_finished: Callable[[Outcome], None]) -> None:
        """`on_finished` runs on the caller's thread, in job order, as each job's write is collected."""
        self.on_finished = on_finished
        self.inline = os.environ.get("OURVIDZ_OVERLAP_WRITES", "1") == "0"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ourvidz-writer")
        self._pending: Future[Outcome] | None = None

    def submit(self, finish: Callable[[], Outcome]) -> None:
        """Hand over a job's finish (write, record, settle), after the previous one is done."""
        self.wait()
        if self.inline:
            self.on_finished(finish())
            return
        self._pending = self._pool.submit(finish)

    def wait(self) -> Outcome | None:
        """Block until the job being written is finished; its outcome (an error in it is raised here)."""
        if self._pending is None:
            return None
        try:
            outcome = self._pending.result()  # Ctrl-C here leaves it pending: close() waits for it again
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):
                self._pending = None
            raise
        self._pending = None
        self.on_finished(outcome)
        return outcome

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)
