"""Who holds a job: a worker is one process on one host."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

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
