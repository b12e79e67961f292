"""Riding out a queue server that is briefly gone (a restart, a failover, a network blip): a worker's
commands are retried with backoff for as long as the operator allows (`ourvidz worker --patience`),
instead of the worker exiting and the job it rendered being charged a failed attempt.

Retrying is safe because every step that changes state is memoized on the server (see `scripts`): a
call whose first delivery ran is answered from its stored reply. The outage is reported once when it
starts and once when it ends, whichever thread (main, heartbeat, presence) meets it first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ourvidz_cli.remote.transport import QueueUnavailable, Transport

FIRST_PAUSE_S = 0.2
LONGEST_PAUSE_S = 5.0


class PatientTransport:
    """A Transport that retries QueueUnavailable for up to `patience_s` (None: for ever)."""

    def __init__(self, inner: Transport, patience_s: float | None, say: Callable[[str], None],
                 longest_pause_s: float = LONGEST_PAUSE_S) -> None:
        """`longest_pause_s`: under a quarter lease, so every worker is back within one once the server is."""
        self.inner, self.patience_s, self.say, self.longest_pause_s = inner, patience_s, say, longest_pause_s
        self.display = inner.display
        self._lock = threading.Lock()
        self._down_since: float | None = None
        # When the last outage ended (monotonic): every worker's key expired in it, so a worker waits a
        # lease before reaping, or it would hand on the jobs of workers about to announce themselves again.
        self.back_at = 0.0
        self._local = threading.local()

    @contextlib.contextmanager
    def impatient(self) -> Iterator[None]:
        """Calls on this thread fail at once instead of waiting out an outage: reaping decides from what
        it read, and a decision carried across an outage would hand on live workers' jobs."""
        self._local.impatient = True
        try:
            yield
        finally:
            self._local.impatient = False

    def execute(self, *args: str | int | float) -> Any:
        pause, started = FIRST_PAUSE_S, time.monotonic()
        while True:
            try:
                reply = self.inner.execute(*args)
            except QueueUnavailable as exc:
                self._went_down(exc)
                if getattr(self._local, "impatient", False):
                    raise
                if self.patience_s is not None and time.monotonic() - started >= self.patience_s:
                    raise QueueUnavailable(f"{exc} (still unreachable after {self.patience_s:.0f}s; "
                                           "the worker stops, its jobs are reaped by the others)") from None
                time.sleep(pause)
                pause = min(pause * 2, self.longest_pause_s)
                continue
            self._came_back()
            return reply

    def _went_down(self, exc: QueueUnavailable) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        limit = "for ever" if self.patience_s is None else f"for up to {self.patience_s:.0f}s"
        self.say(f"{exc}; retrying {limit}, jobs in hand kept")

    def _came_back(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            self.back_at = time.monotonic()
            self.say(f"queue {self.display} is back after {time.monotonic() - since:.1f}s")

    def close(self) -> None:
        self.inner.close()


def impatient(transport: Any) -> contextlib.AbstractContextManager[None]:
    """`PatientTransport.impatient` where the transport is patient; nothing otherwise."""
    return transport.impatient() if isinstance(transport, PatientTransport) else contextlib.nullcontext()
