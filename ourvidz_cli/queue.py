"""The queue seam: what the runner needs from a job queue, and who holds a job.

The runner knows only `JobQueue` (the way huey's consumer knows only `BaseStorage`). The SQLite ledger
(`ledger.queue.SqliteJobQueue`) is its first implementation; another backend (Redis) implements the
same methods and plugs in without touching the runner. Jobs travel as dicts holding the ledger row's
columns, with `config` as a typed `JobConfig`.

Every state change is guarded by the worker that holds the job: a call made by a worker that lost its
lease changes nothing and says so (False or None), which is what makes completion exactly-once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ourvidz_cli.catalog.resolve import JobSpec

Job = dict[str, Any]
QUEUED, RUNNING, COMPLETED, FAILED, CANCELED = "queued", "running", "completed", "failed", "canceled"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELED)

DEFAULT_LEASE_S = 120.0


def lease_seconds() -> float:
    """Lease length; OURVIDZ_LEASE_SECONDS shortens it for tests and shared-ledger setups."""
    try:
        return max(1.0, float(os.environ.get("OURVIDZ_LEASE_SECONDS", DEFAULT_LEASE_S)))
    except ValueError:
        return DEFAULT_LEASE_S


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); its parent simply has not reaped it yet.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Worker:
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


@dataclass(frozen=True)
class ClaimOrder:
    """How to pick the next job. smart: a job kept waiting behind other work longer than `max_wait_s`
    first (no starvation), then priority, then jobs whose models are resident, then age. fifo: arrival
    order only. A job's wait starts when it was queued, when its model last ran, or at `since` (when
    the claimer began), whichever is latest."""

    resident: tuple[str, ...] = ()  # model sources loaded now
    max_wait_s: float | None = None
    since: float | None = None  # when the claiming run started
    order: str = "smart"
    worker: str | None = None  # the claimer: jobs handed to another live worker are not its to take


class JobQueue(Protocol):
    """The operations a runner performs on a queue. Methods that take a `worker` act only while that
    worker still holds the job, and report whether they did."""

    def add(self, specs: Sequence[JobSpec]) -> list[int]:
        """Queue jobs, all or none; returns their ids."""

    def add_running(self, spec: JobSpec, worker: Worker, lease_s: float) -> Job:
        """Insert a job already held by `worker` (run now), so no other runner takes it first."""

    def claim(self, worker: Worker, lease_s: float, order: ClaimOrder) -> Job | None:
        """Atomically take the next job for `worker` with a lease, or None when nothing is queued."""

    def renew(self, job_id: int, worker: Worker, lease_s: float) -> bool | None:
        """Extend the lease; whether a cancel was asked for, or None when the job was lost."""

    def cancel_requested(self, job_id: int) -> bool:
        """Whether someone asked to cancel the job (cheap: checked at every step)."""

    def record(self, job_id: int, worker: Worker, **facts: Any) -> bool:
        """Store facts learnt while running (enhanced prompt, load time) on a held job."""

    def complete(self, job_id: int, worker: Worker, assets: Sequence[dict[str, Any]],
                 promote: Callable[[], None] | None = None, **facts: Any) -> bool:
        """Mark done with its outputs in one step; False when the job was taken away. `promote` moves
        the attempt's staged files into place, called only once the worker is known to hold the job,
        inside that same step."""

    def fail(self, job_id: int, worker: Worker, error: str) -> bool: ...

    def finish_canceled(self, job_id: int, worker: Worker) -> bool: ...

    def release(self, job_id: int, worker: Worker, reason: str) -> bool:
        """Put a held job back in the queue without charging it an attempt (an interrupt is not its fault)."""

    def reap(self, worker: Worker) -> list[tuple[int, str]]:
        """Requeue (or fail, past max attempts) jobs whose worker is gone; returns (id, new status)."""

    def cancel(self, job_id: int) -> str:
        """Cancel a queued job, or ask a running one to stop; returns what happened."""

    def pending_enhancements(self, limit: int) -> list[Job]:
        """Up to `limit` queued jobs whose prompt still needs the enhancer (enhanced in a batch while it
        is loaded), most urgent first."""

    def clone(self) -> JobQueue:
        """Another handle on the same queue, safe to use from another thread (the heartbeat)."""

    def close(self) -> None:
        """Release this handle's connection."""
