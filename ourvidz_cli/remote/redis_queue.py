"""The reliable queue on the seed's Redis lists: every key it uses and each protocol step.

Producers LPUSH onto `sdxl_queue` / `wan_queue` (as the seed's backend does); the head is the right
end. A worker claims by moving the head into its own processing list and taking a lease key for the
job; its liveness is a key with a TTL that its presence thread renews. Whoever notices a worker's key
gone (any worker) reaps its processing list: each item back to the head of its queue with one more
failed attempt, or past `max_attempts` into the dead-letter list. A job ends (completed, failed for
good, canceled) only through a fenced step that checks the lease still names the worker and records
the job as done, so a second completion of the same job is impossible.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ourvidz_cli.remote import scripts
from ourvidz_cli.remote.items import item_id
from ourvidz_cli.remote.transport import Transport

QUEUES = ("sdxl_queue", "wan_queue")
PREFIX = "ourvidz:"
DONE_TTL_S = 7 * 24 * 3600  # how long a finished job's id is remembered, so duplicates are dropped


@dataclass(frozen=True)
class Claimed:
    raw: str
    state: str  # ok, bad (not a job), done (a duplicate of a finished job), held (another worker's)
    job_id: str
    failed_attempts: int
    cancel: bool
    holder: str  # what the lease holds: the worker and this claim's token


def worker_of(holder: str) -> str:
    """A lease names one claim (`worker#token`): an earlier attempt of the same worker at the same job,
    still finishing on the writer thread, is fenced out like another worker."""
    return holder.split("#", 1)[0]


class RedisQueue:
    def __init__(self, transport: Transport, prefix: str = PREFIX) -> None:
        self.t, self.prefix = transport, prefix

    @property
    def display(self) -> str:
        return self.t.display

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        return self.t.execute("EVAL", script, len(keys), *keys, *args)

    def _step(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """A memoized step (see scripts): this call's own reply key goes last, so a transport that
        sends the same call again gets the first delivery's reply."""
        return self._eval(script, [*keys, self.key("reply", uuid.uuid4().hex)], args)

    # -- producing --------------------------------------------------------------------------------

    def push(self, queue: str, items: list[str]) -> int:
        """FIFO: LPUSH at the tail; workers take from the head (the right end)."""
        return int(self.t.execute("LPUSH", queue, *items)) if items else 0

    # -- presence ---------------------------------------------------------------------------------

    def announce(self, worker: str, info: dict[str, Any], ttl_s: float) -> None:
        self.t.execute("SET", self.key("worker", worker), json.dumps(info), "PX", int(ttl_s * 1000))
        self.t.execute("SADD", self.key("workers"), worker)

    def retire(self, worker: str) -> None:
        """A worker leaving cleanly: its list is empty, so nothing is left to reap."""
        if not self.t.execute("LLEN", self.key("processing", worker)):
            self.t.execute("SREM", self.key("workers"), worker)
        self.t.execute("DEL", self.key("worker", worker))

    # -- a worker's steps -------------------------------------------------------------------------

    def claim(self, queue: str, worker: str, lease_s: float) -> Claimed | None:
        holder = f"{worker}#{secrets.token_hex(4)}"
        reply = self._step(scripts.CLAIM, [queue, self.key("processing", worker), self.key("origin")],
                           [holder, int(lease_s * 1000), self.prefix])
        if not reply:
            return None
        raw, state, job_id, failed, cancel = reply
        return Claimed(raw, state, job_id, int(failed), cancel in ("1", 1), holder)

    def renew(self, job_id: str, raw: str, holder: str, lease_s: float) -> bool | None:
        """Whether a cancel was asked for; None when the job is no longer this worker's (a lease that
        lapsed while nobody reaped the item is taken again)."""
        keys = [self.key("lease", job_id), self.key("cancel", job_id), self.key("processing", worker_of(holder))]
        state = int(self._eval(scripts.RENEW, keys, [holder, int(lease_s * 1000), raw]))
        return None if state < 0 else bool(state)

    def holds(self, job_id: str, raw: str, holder: str, lease_s: float) -> bool:
        """The job is still this worker's (its lease renewed, or taken again when it lapsed unreaped)."""
        return self.renew(job_id, raw, holder, lease_s) is not None

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.t.execute("EXISTS", self.key("cancel", job_id)))

    def commit(self, job_id: str, raw: str, holder: str, body: str, lease_s: float) -> bool:
        """End the job exactly once, while it is ours; the body is kept for a reaper to resend."""
        keys = [self.key("lease", job_id), self.key("done", job_id), self.key("processing", worker_of(holder))]
        return bool(self._step(scripts.COMMIT, keys, [holder, body, DONE_TTL_S, raw, int(lease_s * 1000)]))

    def give_up(self, job_id: str, raw: str, holder: str, body: str, dead_entry: str, lease_s: float) -> bool:
        keys = [self.key("lease", job_id), self.key("done", job_id), self.key("dead"),
                self.key("processing", worker_of(holder)), self.key("attempts"), self.key("origin")]
        return bool(self._step(scripts.GIVE_UP, keys,
                               [holder, body, DONE_TTL_S, dead_entry, raw, int(lease_s * 1000), job_id]))

    def finalize(self, raw: str, job_id: str, holder: str) -> None:
        keys = [self.key("processing", worker_of(holder)), self.key("lease", job_id), self.key("cancel", job_id),
                self.key("attempts"), self.key("origin")]
        self._step(scripts.FINALIZE, keys, [raw, holder, job_id])

    def requeue(self, queue: str, raw: str, job_id: str, holder: str, charge: bool, lease_s: float) -> int | None:
        """Back to the head of `queue`; the failed attempts so far, or None when the job is not ours."""
        keys = [self.key("lease", job_id), self.key("processing", worker_of(holder)), queue, self.key("attempts")]
        n = int(self._step(scripts.REQUEUE, keys, [holder, raw, job_id, "1" if charge else "0", int(lease_s * 1000)]))
        return None if n < 0 else n

    def dead_letter(self, worker: str, raw: str, entry: str) -> bool:
        return bool(self._step(scripts.DEAD_LETTER, [self.key("processing", worker), self.key("dead")], [raw, entry]))

    def drop_duplicate(self, worker: str, raw: str) -> None:
        self.t.execute("LREM", self.key("processing", worker), 1, raw)

    # -- reaping ----------------------------------------------------------------------------------

    def workers(self) -> dict[str, bool]:
        """Every registered worker, and whether its liveness key is still there."""
        members = self.t.execute("SMEMBERS", self.key("workers")) or []
        return {w: bool(self.t.execute("EXISTS", self.key("worker", w))) for w in members}

    def announced_jobs(self, worker: str) -> frozenset[str]:
        """The job ids a live worker said it runs at its last beat."""
        info = self.t.execute("GET", self.key("worker", worker))
        try:
            return frozenset(str(j) for j in (json.loads(info).get("jobs") or [])) if info else frozenset()
        except (ValueError, AttributeError):
            return frozenset()

    def has_lease(self, job_id: str) -> bool:
        return bool(self.t.execute("EXISTS", self.key("lease", job_id)))

    def in_flight(self, worker: str) -> list[str]:
        return list(self.t.execute("LRANGE", self.key("processing", worker), 0, -1) or [])

    def origin(self, job_id: str) -> str | None:
        return self.t.execute("HGET", self.key("origin"), job_id)

    def reap_item(self, owner: str, raw: str, job_id: str, queue: str, max_attempts: int, entry: str,
                  body: str, orphan: bool = False) -> tuple[str, int]:
        """('requeued'|'dead'|'done'|'gone'|'leased', failed attempts) for one item of a dead worker's list,
        or (`orphan`) of a live worker's list when no lease names anyone."""
        keys = [self.key("processing", owner), queue, self.key("attempts"), self.key("dead"),
                self.key("done", job_id), self.key("lease", job_id), self.key("origin"), self.key("worker", owner)]
        state, n = self._step(scripts.REAP, keys, [raw, job_id, max_attempts, entry, body, DONE_TTL_S, owner,
                                                   "1" if orphan else "0"])
        return str(state), int(n)

    def forget_worker(self, worker: str) -> None:
        if not self.t.execute("LLEN", self.key("processing", worker)):
            self.t.execute("SREM", self.key("workers"), worker)

    def done_body(self, job_id: str) -> str | None:
        return self.t.execute("GET", self.key("done", job_id))

    # -- the user's side --------------------------------------------------------------------------

    def cancel(self, job_id: str) -> str:
        if self.t.execute("EXISTS", self.key("done", job_id)):
            return "already finished"
        self.t.execute("SET", self.key("cancel", job_id), "1", "EX", DONE_TTL_S)
        return "cancel requested"

    def status(self, dead_limit: int = 50) -> dict[str, Any]:
        workers = []
        for w in sorted(self.t.execute("SMEMBERS", self.key("workers")) or []):
            info = self.t.execute("GET", self.key("worker", w))
            jobs = [item_id(raw) for raw in self.in_flight(w)]
            workers.append({"worker": w, "alive": info is not None, **(json.loads(info) if info else {}),
                            "in_flight": jobs})
        dead = [json.loads(e) for e in self.t.execute("LRANGE", self.key("dead"), 0, dead_limit - 1) or []]
        return {"queue": self.display, "at": time.time(),
                "depth": {q: int(self.t.execute("LLEN", q)) for q in QUEUES},
                "workers": workers, "dead_workers": [w["worker"] for w in workers if not w["alive"]],
                "dead_letter": {"count": int(self.t.execute("LLEN", self.key("dead"))),
                                "items": [{k: v for k, v in e.items() if k != "item"} for e in dead]}}

    def head_created_at(self, queue: str) -> str | None:
        """The raw head item (the next to be claimed), for the routing's wait bound."""
        return self.t.execute("LINDEX", queue, -1)


def open_queue(url: str) -> RedisQueue:
    """The shared queue at `url` (redis://, rediss://, or Upstash's REST https://)."""
    from ourvidz_cli.remote.transport import open_transport

    return RedisQueue(open_transport(url))
