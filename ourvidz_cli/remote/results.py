"""What happens to a remote job once it ran: outputs up to Supabase (objects, rows), the fenced commit
that ends it exactly once, the `job-callback`, and the removal from the worker's processing list. A
failed attempt goes back to the head of its queue until `max_attempts`, then to the dead-letter list
with one failed callback. Reaping a dead worker's list ends here too.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError
from ourvidz_cli.library.outputs import remove_assets
from ourvidz_cli.queue import lease_seconds
from ourvidz_cli.remote.callback import Callback, callback_body
from ourvidz_cli.remote.items import NotAJob, RemoteJob, dead_entry, item_id, parse_item, queue_for, unwrap
from ourvidz_cli.remote.outage import impatient
from ourvidz_cli.remote.redis_queue import QUEUES, RedisQueue
from ourvidz_cli.remote.transport import QueueUnavailable


@dataclass
class Held:
    """A remote job this worker runs: the item, its queue, and the attempts that failed before this one."""

    remote: RemoteJob
    queue: str
    failed_before: int
    holder: str  # what this claim's lease holds (worker#token)

    @property
    def attempt(self) -> int:
        return self.failed_before + 1


class Undeliverable(OurvidzError):
    """An output the sync skips for good (over its bucket's limit, a type the bucket refuses)."""


class Results:
    def __init__(self, redis: RedisQueue, ledger: Any, home: Path, catalog: Any, worker: str,
                 client: Any | None, owner: str, say: Callable[[str], None]) -> None:
        """`client` is a Supabase client, or None with --local-results (outputs stay on this machine)."""
        self.redis, self.ledger, self.home, self.catalog, self.worker = redis, ledger, home, catalog, worker
        self.client, self.owner, self.say = client, owner, say
        self.callback = Callback(client) if client is not None else None
        self.lease_s = lease_seconds()

    # -- after a job ran --------------------------------------------------------------------------

    def completed(self, held: Held, local_id: int) -> None:
        """Upload, then the fenced commit. The lease is kept alive meanwhile (the job stays in `held`
        until this returns), so a slow upload does not lose a job whose worker lives."""
        rid, raw = held.remote.id, held.remote.raw
        if not self.redis.holds(rid, raw, held.holder, self.lease_s):
            self.dropped(local_id, f"job {rid}: the lease was lost; another worker has it")
            return
        job = self.ledger.jobs.get(local_id)
        try:
            paths = self._publish(job, held.remote.user_id or self.owner)
        except Undeliverable as exc:
            self.failed(held, f"the outputs cannot be delivered: {exc}", final=True)
            return
        except OurvidzError as exc:
            self.failed(held, f"uploading the outputs failed: {exc}")
            return
        body = callback_body(rid, "completed", paths, None, self._metadata(job, held), job["config"].is_video)
        if not self.redis.commit(rid, raw, held.holder, body, self.lease_s):
            self.dropped(local_id, f"job {rid}: the lease was lost before the commit")
            return
        self._report(held, body)

    def dropped(self, local_id: int, why: str) -> None:
        """A result fenced out: another worker ends the job, so this machine keeps neither the job as
        completed nor its files as the job's outputs."""
        remove_assets(self.home, self.ledger.queue.revoke(local_id, f"{why}; this machine's result was dropped"))
        self.say(f"{why}; this result is dropped")

    def failed(self, held: Held, error: str, final: bool = False) -> None:
        """Back to the head of its queue while attempts remain (not when `final`), else the dead letter."""
        rid, raw, spec = held.remote.id, held.remote.raw, held.remote.spec
        if held.attempt < spec.max_attempts and not final:
            if self.redis.requeue(held.queue, raw, rid, held.holder, True, self.lease_s) is not None:
                self.say(f"job {rid}: attempt {held.attempt} of {spec.max_attempts} failed ({error}); "
                         f"back at the head of {held.queue}")
            return
        reason = (error if final else f"failed {held.attempt} of {spec.max_attempts} attempt(s); last: {error}")
        body = callback_body(rid, "failed", [], reason, {"attempts": held.attempt, "worker": self.worker})
        entry = dead_entry(raw, held.queue, reason, self.worker)
        if self.redis.give_up(rid, raw, held.holder, body, entry, self.lease_s):
            self.say(f"job {rid}: {reason}; filed in the dead-letter list")
            self._report(held, body)

    def canceled(self, held: Held) -> None:
        body = callback_body(held.remote.id, "failed", [], "canceled", {"attempts": held.attempt,
                                                                         "worker": self.worker})
        if self.redis.commit(held.remote.id, held.remote.raw, held.holder, body, self.lease_s):
            self._report(held, body)

    def rejected(self, queue: str, raw: str, problem: NotAJob, holder: str) -> None:
        """An item no worker can run: dead-lettered at once, with a failed callback when it has an id."""
        entry = dead_entry(raw, queue, f"not a job: {problem}", self.worker)
        if problem.job_id is None:
            self.redis.dead_letter(self.worker, raw, entry)
            self.say(f"{queue}: an item that is not a job went to the dead-letter list ({problem})")
            return
        body = callback_body(problem.job_id, "failed", [], f"not a job: {problem}", {"worker": self.worker})
        if self.redis.give_up(problem.job_id, raw, holder, body, entry, self.lease_s):
            self.say(f"job {problem.job_id}: not a job ({problem}); filed in the dead-letter list")
            self._send(problem.job_id, body)
            self.redis.finalize(raw, problem.job_id, holder)

    def _report(self, held: Held, body: str) -> None:
        """Callback, then out of the processing list. When the callback cannot be delivered the item
        stays listed, and a reaper resends the stored body once this worker is gone."""
        if self._send(held.remote.id, body):
            self.redis.finalize(held.remote.raw, held.remote.id, held.holder)

    def _send(self, job_id: str, body: str) -> bool:
        if self.callback is None:
            return True
        try:
            self.callback.send(body)
        except OurvidzError as exc:
            self.say(f"job {job_id}: the job-callback failed ({exc}); it is resent after this worker stops")
            return False
        return True

    def _publish(self, job: dict[str, Any], owner: str) -> list[str]:
        from ourvidz_cli.ledger.sync_state import SYNCED
        from ourvidz_cli.sync.syncer import Syncer, remote_path

        assets = self.ledger.assets.for_job(job["id"])
        if self.client is None:
            return [a["path"] for a in assets]
        result = Syncer(self.ledger, self.home, self.catalog, self.client, owner).sync_job(job)
        if result["failed"]:
            raise OurvidzError(f"{len(result['failed'])} upload(s) failed: {result['failed'][0]}")
        states = [self.ledger.sync.asset(a["id"]) or {} for a in assets]
        refused = [f"{a['path']}: {st.get('error') or 'not uploaded'}" for a, st in zip(assets, states, strict=True)
                   if st.get("status") != SYNCED]
        if refused or not assets:
            raise Undeliverable("; ".join(refused) or "the job wrote no output")
        return [f"{a['bucket']}/{remote_path(owner, job, a)}" for a in assets]

    def _metadata(self, job: dict[str, Any], held: Held) -> dict[str, Any]:
        cfg = job["config"]
        timings = {k: round(job[k], 3) for k in ("enhance_s", "load_s", "generate_s", "duration_s") if job.get(k)}
        return {"seed": cfg.seed, "steps": cfg.steps, "width": cfg.width, "height": cfg.height,
                "frames": cfg.frames, "count": cfg.count, "job_type": job["type"], "attempts": held.attempt,
                "enhanced_prompt": job.get("enhanced_prompt"), "worker": self.worker, "host": socket.gethostname(),
                "timings": timings, **({"item": held.remote.meta} if held.remote.meta else {})}

    # -- reaping ----------------------------------------------------------------------------------

    def reap(self, mine: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        """Hand on every item of every worker whose key expired, and every item of a live worker (this
        one included) that no lease names and that its worker no longer says it runs (`mine`: the ids
        this worker runs now); returns (job id, what became of it)."""
        done: list[tuple[str, str]] = []
        try:
            with impatient(self.redis.t):
                self._reap_all(mine, done)
        except QueueUnavailable:
            pass  # the outage is waited out elsewhere; reaping starts afresh once it is over
        return [d for d in done if d[1] not in ("gone", "leased", "alive")]

    def _reap_all(self, mine: frozenset[str], done: list[tuple[str, str]]) -> None:
        for worker, alive in self.redis.workers().items():
            if self._just_back():
                break
            if not alive:
                done += [self._reap_item(worker, raw) for raw in self.redis.in_flight(worker)]
                self.redis.forget_worker(worker)
                continue
            running = mine if worker == self.worker else self.redis.announced_jobs(worker)
            for raw in self.redis.in_flight(worker):
                rid = item_id(raw)
                if rid is not None and rid not in running and not self.redis.has_lease(rid):
                    done.append(self._reap_item(worker, raw, orphan=True))

    def _just_back(self) -> bool:
        """Within a lease of the end of an outage this worker waited out: every worker's key expired in
        it, and the others announce themselves again within a quarter lease, so nobody is reaped yet.
        Asked before each worker's list, since a call that waited out the outage returns stale answers."""
        return time.monotonic() < getattr(self.redis.t, "back_at", 0.0) + self.lease_s

    def _reap_item(self, dead: str, raw: str, orphan: bool = False) -> tuple[str, str]:
        rid = item_id(raw)
        if rid is None:
            self.redis.dead_letter(dead, raw, dead_entry(raw, "?", "not a job (found in a dead worker's list)", dead))
            return ("?", "dead")
        queue = self.redis.origin(rid) or self._queue_of(raw)
        try:
            max_attempts = parse_item(raw, self.catalog).spec.max_attempts
        except NotAJob:
            max_attempts = 1
        how = "lost its lease" if orphan else "died"
        reason = f"gave up after {max_attempts} attempt(s): the worker running it {how} each time (last {dead})"
        body = callback_body(rid, "failed", [], reason, {"attempts": max_attempts, "worker": dead})
        state, _ = self.redis.reap_item(dead, raw, rid, queue, max_attempts, dead_entry(raw, queue, reason, dead),
                                        body, orphan)
        if state == "dead":
            self._send(rid, body)
        elif state == "done":  # it ended, but its worker died before the callback went out
            self._send(rid, self.redis.done_body(rid) or body)
        return (rid, state)

    def _queue_of(self, raw: str) -> str:
        try:
            return queue_for(self.catalog, str(unwrap(raw)[0].get("type")))
        except (OurvidzError, ValueError, AttributeError):
            return QUEUES[0]
