"""A worker's liveness on the queue: its key (with a TTL of one lease) and the leases of the jobs it
holds, renewed every quarter lease from a thread for as long as the process runs. A worker killed or
paused stops renewing, so its key expires and any other worker reaps what it held."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ourvidz_cli.remote.redis_queue import RedisQueue


class Presence(threading.Thread):
    def __init__(self, redis: RedisQueue, worker: str, lease_s: float, held: dict[int, Any],
                 models: tuple[str, ...], on_problem: Callable[[str], None]) -> None:
        super().__init__(name="presence", daemon=True)
        self.redis, self.worker, self.lease_s, self.held, self.on_problem = redis, worker, lease_s, held, on_problem
        self.info = {"host": socket.gethostname(), "pid": os.getpid(), "queues": list(models),
                     "since": time.time()}
        self.stopping = threading.Event()
        self.failures = 0

    def beat(self) -> None:
        self.redis.announce(self.worker, {**self.info, "jobs": [h.remote.id for h in list(self.held.values())]},
                            self.lease_s)
        for held in list(self.held.values()):
            self.redis.renew(held.remote.id, held.remote.raw, held.holder, self.lease_s)

    def run(self) -> None:
        while not self.stopping.wait(self.lease_s / 4):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001  a queue hiccup: the next beat, within the lease, tries again
                self.failures += 1
                if self.failures % 10 == 1:
                    self.on_problem(f"presence renewal failed ({self.failures} so far): {exc}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        try:
            self.redis.retire(self.worker)
        except Exception:  # noqa: BLE001  leaving anyway: the key's TTL retires it
            pass
