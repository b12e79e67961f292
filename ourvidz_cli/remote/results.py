"""What happens to a remote job once it ran: outputs up to Supabase (objects, rows), the fenced commit
that ends it exactly once, the `job-callback`, and the removal from the worker's processing list. A
failed attempt goes back to the head of its queue until `max_attempts`, then to the dead-letter list
with one failed callback. Reaping a dead worker's list ends here too.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError
from ourvidz_cli.remote.callback import Callback, callback_body
from ourvidz_cli.remote.items import NotAJob, RemoteJob, dead_entry, item_id, parse_item, queue_for
from ourvidz_cli.remote.redis_queue import QUEUES, RedisQueue


@dataclass
class Held:
    """A remote job this worker runs: the item, its queue, and the attempts that failed before this one."""

    remote: RemoteJob
    queue: str
    failed_before: int

    @property
    def attempt(self) -> int:
        return self.failed_before + 1


class Results:
    def __init__(self, redis: RedisQueue, ledger: Any, home: Path, catalog: Any, worker: str,
                 client: Any | None, owner: str, say: Callable[[str], None]) -> None:
        """`client` is a Supabase client, or None with --local-results (outputs stay on this machine)."""
        self.redis, self.ledger, self.home, self.catalog, self.worker = redis, ledger, home, catalog, worker
        self.client, self.owner, self.say = client, owner, say
        self.callback = Callback(client) if client is not None else None

    # -- after a job ran --------------------------------------------------------------------------

    def completed(self, held: Held, local_id: int) -> None:
        rid = held.remote.id
        if not self.redis.holds(rid, self.worker):
            self.say(f"job {rid}: the lease was lost; another worker has it, so this result is dropped")
            return
        job = self.ledger.jobs.get(local_id)
        try:
            paths = self._publish(job, held.remote.user_id or self.owner)
        except OurvidzError as exc:
            self.failed(held, f"uploading the outputs failed: {exc}")
            return
        body = callback_body(rid, "completed", paths, None, self._metadata(job, held), job["config"].is_video)
        if not self.redis.commit(rid, self.worker, body):
            self.say(f"job {rid}: the lease was lost before the commit; this result is dropped")
            return
        self._report(held, body)

    def failed(self, held: Held, error: str) -> None:
        rid, spec = held.remote.id, held.remote.spec
        if held.attempt < spec.max_attempts:
            if self.redis.requeue(held.queue, held.remote.raw, rid, self.worker, charge=True) is not None:
                self.say(f"job {rid}: attempt {held.attempt} of {spec.max_attempts} failed ({error}); "
                         f"back at the head of {held.queue}")
            return
        reason = f"failed {held.attempt} of {spec.max_attempts} attempt(s); last: {error}"
        body = callback_body(rid, "failed", [], reason, {"attempts": held.attempt, "worker": self.worker})
        if self.redis.give_up(rid, self.worker, body, dead_entry(held.remote.raw, held.queue, reason, self.worker)):
            self.say(f"job {rid}: {reason}; filed in the dead-letter list")
            self._report(held, body)

    def canceled(self, held: Held) -> None:
        body = callback_body(held.remote.id, "failed", [], "canceled", {"attempts": held.attempt,
                                                                         "worker": self.worker})
        if self.redis.commit(held.remote.id, self.worker, body):
            self._report(held, body)

    def rejected(self, queue: str, raw: str, problem: NotAJob) -> None:
        """An item no worker can run: dead-lettered at once, with a failed callback when it has an id."""
        entry = dead_entry(raw, queue, f"not a job: {problem}", self.worker)
        if problem.job_id is None:
            self.redis.dead_letter(self.worker, raw, entry)
            self.say(f"{queue}: an item that is not a job went to the dead-letter list ({problem})")
            return
        body = callback_body(problem.job_id, "failed", [], f"not a job: {problem}", {"worker": self.worker})
        if self.redis.give_up(problem.job_id, self.worker, body, entry):
            self.say(f"job {problem.job_id}: not a job ({problem}); filed in the dead-letter list")
            self._send(problem.job_id, body)
            self.redis.finalize(raw, problem.job_id, self.worker)

    def _report(self, held: Held, body: str) -> None:
        """Callback, then out of the processing list. When the callback cannot be delivered the item
        stays listed, and a reaper resends the stored body once this worker is gone."""
        if self._send(held.remote.id, body):
            self.redis.finalize(held.remote.raw, held.remote.id, self.worker)

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
        return [f"{a['bucket']}/{remote_path(owner, job, a)}" for a in assets
                if (self.ledger.sync.asset(a["id"]) or {}).get("status") == SYNCED]

    def _metadata(self, job: dict[str, Any], held: Held) -> dict[str, Any]:
        cfg = job["config"]
        timings = {k: round(job[k], 3) for k in ("enhance_s", "load_s", "generate_s", "duration_s") if job.get(k)}
        return {"seed": cfg.seed, "steps": cfg.steps, "width": cfg.width, "height": cfg.height,
                "frames": cfg.frames, "count": cfg.count, "job_type": job["type"], "attempts": held.attempt,
                "enhanced_prompt": job.get("enhanced_prompt"), "worker": self.worker, "host": socket.gethostname(),
                "timings": timings, **({"item": held.remote.meta} if held.remote.meta else {})}

    # -- reaping ----------------------------------------------------------------------------------

    def reap(self) -> list[tuple[str, str]]:
        """Hand on every item of every worker whose key expired; returns (job id, what became of it)."""
        done = []
        for dead in self.redis.dead_workers():
            for raw in self.redis.in_flight(dead):
                done.append(self._reap_item(dead, raw))
            self.redis.forget_worker(dead)
        return [d for d in done if d[1] != "gone"]

    def _reap_item(self, dead: str, raw: str) -> tuple[str, str]:
        rid = item_id(raw)
        if rid is None:
            self.redis.dead_letter(dead, raw, dead_entry(raw, "?", "not a job (found in a dead worker's list)", dead))
            return ("?", "dead")
        queue = self.redis.origin(rid) or self._queue_of(raw)
        try:
            max_attempts = parse_item(raw, self.catalog).spec.max_attempts
        except NotAJob:
            max_attempts = 1
        reason = f"gave up after {max_attempts} attempt(s): the worker running it died each time (last {dead})"
        body = callback_body(rid, "failed", [], reason, {"attempts": max_attempts, "worker": dead})
        state, _ = self.redis.reap_item(dead, raw, rid, queue, max_attempts, dead_entry(raw, queue, reason, dead),
                                        body)
        if state == "dead":
            self._send(rid, body)
        elif state == "done":  # it ended, but its worker died before the callback went out
            self._send(rid, self.redis.done_body(rid) or body)
        return (rid, state)

    def _queue_of(self, raw: str) -> str:
        try:
            return queue_for(self.catalog, str(json.loads(raw).get("type")))
        except (OurvidzError, ValueError, AttributeError):
            return QUEUES[0]
