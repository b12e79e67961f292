"""The `JobQueue` a runner uses on a remote queue: claims from the seed's Redis lists, and writes each
job it takes to the local ledger first, so `jobs show`, `jobs log`, `assets`, `stats` and `gallery`
work on every machine as they do with the local queue.

Routing: the queue whose models are loaded first; the other queue's head once it has waited longer than
`max_wait_s` since its `created_at`; only the queues this machine serves (`--models`). Leases are
renewed by the job's heartbeat and by the worker's presence thread; a lease that no longer names this
worker stops the job at its next step, and its result is dropped (see `results`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import UsageError
from ourvidz_cli.queue import CANCELED, COMPLETED, FAILED, ClaimOrder, Job, Worker
from ourvidz_cli.remote.items import NotAJob, parse_item, parse_time, queue_for, to_item, unwrap
from ourvidz_cli.remote.redis_queue import Claimed, RedisQueue
from ourvidz_cli.remote.results import Held, Results

if TYPE_CHECKING:
    from ourvidz_cli.catalog.resolve import JobSpec
    from ourvidz_cli.engine.jobs.report import Outcome


def served_queues(catalog: Any, kinds: Sequence[str] | None) -> tuple[str, ...]:
    """The queues for `--models sdxl,wan` (all the catalog's job types' queues when not given)."""
    known = sorted({queue_for(catalog, t) for t in catalog.job_types})
    if not kinds:
        return tuple(known)
    wanted = [f"{k.strip()}_queue" for k in kinds if k.strip()]
    unknown = [w.removesuffix("_queue") for w in wanted if w not in known]
    if unknown:
        raise UsageError(f"--models {','.join(unknown)}: not a model family with a queue here; "
                         f"choose from {','.join(q.removesuffix('_queue') for q in known)}")
    return tuple(dict.fromkeys(wanted))


def pushing_user() -> str | None:
    """The user the pushed items are for (OURVIDZ_SUPABASE_USER_ID), as the web app's items name theirs."""
    import os

    return os.environ.get("OURVIDZ_SUPABASE_USER_ID", "").strip() or None


def push_specs(redis: RedisQueue, catalog: Any, specs: Sequence[JobSpec], user_id: str | None) -> list[str]:
    """Producer: each job onto its queue in order; returns the new job ids."""
    by_queue: dict[str, list[str]] = {}
    ids = []
    for spec in specs:
        item = to_item(spec, user_id)
        by_queue.setdefault(queue_for(catalog, spec.job_type), []).append(json.dumps(item))
        ids.append(item["id"])
    for queue, items in by_queue.items():
        redis.push(queue, items)
    return ids


class RemoteJobQueue:
    def __init__(self, redis: RedisQueue, local: Any, catalog: Any, queues: tuple[str, ...], results: Results,
                 say: Callable[[str], None], held: dict[int, Held] | None = None) -> None:
        """`local` is the ledger's SqliteJobQueue; `held` is shared with clones (the heartbeat's)."""
        self.redis, self.local, self.catalog, self.queues, self.results, self.say = (
            redis, local, catalog, queues, results, say)
        self.held: dict[int, Held] = {} if held is None else held
        self.models = {q: {catalog.models[jt.model].source for jt in catalog.job_types.values()
                           if queue_for(catalog, jt.name) == q} for q in queues}

    def clone(self) -> RemoteJobQueue:
        return RemoteJobQueue(self.redis, self.local.clone(), self.catalog, self.queues, self.results, self.say,
                              self.held)

    def close(self) -> None:
        self.local.close()

    # -- producing --------------------------------------------------------------------------------

    def add(self, specs: Sequence[JobSpec]) -> list[str]:
        return push_specs(self.redis, self.catalog, specs, None)

    def add_running(self, spec: JobSpec, worker: Worker, lease_s: float) -> Job:
        raise UsageError("a job run now runs on this machine; use 'ourvidz queue add --queue URL' for the remote queue")

    # -- claiming ---------------------------------------------------------------------------------

    def _route(self, order: ClaimOrder) -> list[str]:
        resident = set(order.resident)
        warm = [q for q in self.queues if self.models[q] & resident]
        cold = [q for q in self.queues if q not in warm]
        if order.max_wait_s is not None:
            now = time.time()
            starved = [q for q in cold if self._waited(q, now) > order.max_wait_s]
            return starved + warm + [q for q in cold if q not in starved]
        return warm + cold

    def _waited(self, queue: str, now: float) -> float:
        head = self.redis.head_created_at(queue)
        if head is None:
            return 0.0
        try:
            created = parse_time(unwrap(head)[0].get("created_at"))
        except (ValueError, AttributeError):
            return 0.0
        return now - created if created else 0.0

    def claim(self, worker: Worker, lease_s: float, order: ClaimOrder) -> Job | None:
        for queue in self._route(order):
            while (claimed := self.redis.claim(queue, worker.id, lease_s)) is not None:
                if claimed.state == "ok" and self._still_finishing(claimed.job_id):
                    # An earlier attempt here is still being written or published: it settles first.
                    self.redis.requeue(queue, claimed.raw, claimed.job_id, claimed.holder, False, lease_s)
                    break
                job = self._take(queue, claimed, worker, lease_s)
                if job is not None:
                    return job
                if claimed.state == "held":
                    break  # another worker still runs that job: try the other queue, then wait
        return None

    def _still_finishing(self, remote_id: str) -> bool:
        return any(h.remote.id == remote_id for h in list(self.held.values()))

    def _take(self, queue: str, claimed: Claimed, worker: Worker, lease_s: float) -> Job | None:
        if claimed.state == "bad":
            try:  # for the reason: not JSON, not an object, no id
                parse_item(claimed.raw, self.catalog)
                problem = NotAJob("no usable id")
            except NotAJob as exc:
                problem = NotAJob(str(exc))  # without an id: nothing to call back about
            self.results.rejected(queue, claimed.raw, problem, claimed.holder)
            return None
        if claimed.state == "done":
            self.say(f"job {claimed.job_id}: a duplicate of a finished job; dropped")
            return None
        if claimed.state == "held":
            return None
        from ourvidz_cli.remote.fetch import fetch

        try:
            remote = parse_item(claimed.raw, self.catalog, fetch)
        except NotAJob as problem:
            self.results.rejected(queue, claimed.raw, problem, claimed.holder)
            return None
        clash = self.local.uuid_clash(remote.id, remote.spec, remote.seed_given)
        if clash:
            self.results.rejected(queue, claimed.raw, NotAJob(clash, remote.id), claimed.holder)
            return None
        from ourvidz_cli.library.inputs import store

        for picture in remote.pictures:  # only for an item this worker takes
            store(self.results.home, picture)
        held = Held(remote, queue, claimed.failed_attempts, claimed.holder)
        if claimed.cancel:
            self.results.canceled(held)
            self.say(f"job {remote.id}: canceled before it started")
            return None
        job = self.local.adopt(remote.spec, remote.id, f"{self.redis.display}/{queue}", remote.meta, held.attempt,
                               worker, lease_s)
        job["remote_id"] = remote.id
        self.held[job["id"]] = held
        self._log_fields(job["id"], remote.meta)
        return job

    def _log_fields(self, job_id: int, meta: dict[str, Any]) -> None:
        """Which item field each setting came from (the app's names, or the older worker's), in the job log."""
        from ourvidz_cli.library import joblog

        fields = meta.get("fields") or {}
        if fields:
            joblog.append(self.results.home, job_id, "settings from the item: " + ", ".join(
                f"{name} <- {where}" for name, where in sorted(fields.items())))
        if meta.get("unwrapped"):
            joblog.append(self.results.home, job_id, str(meta["unwrapped"]))

    # -- while running ----------------------------------------------------------------------------

    def _rid(self, job_id: int) -> str:
        return self.held[job_id].remote.id

    def renew(self, job_id: int, worker: Worker, lease_s: float) -> bool | None:
        held = self.held[job_id]
        state = self.redis.renew(held.remote.id, held.remote.raw, held.holder, lease_s)
        local = self.local.renew(job_id, worker, lease_s)
        return None if state is None else bool(state or local)

    def cancel_requested(self, job_id: int) -> bool:
        return self.redis.cancel_requested(self._rid(job_id)) or self.local.cancel_requested(job_id)

    def record(self, job_id: int, worker: Worker, **facts: Any) -> bool:
        return bool(self.local.record(job_id, worker, **facts))

    def _holds(self, job_id: int) -> bool:
        held = self.held[job_id]
        return self.redis.holds(held.remote.id, held.remote.raw, held.holder, self.results.lease_s)

    def complete(self, job_id: int, worker: Worker, assets: Sequence[dict[str, Any]],
                 promote: Callable[[], None] | None = None, **facts: Any) -> bool:
        if not self._holds(job_id):
            return False
        return bool(self.local.complete(job_id, worker, assets, promote, **facts))

    def fail(self, job_id: int, worker: Worker, error: str) -> bool:
        """False when the lease is lost: the job is not failed, another worker has it (this machine's row
        waits, inert, as queued)."""
        if not self._holds(job_id):
            self.local.release(job_id, worker, f"{error}; another worker took the job over")
            return False
        return bool(self.local.fail(job_id, worker, error))

    def finish_canceled(self, job_id: int, worker: Worker) -> bool:
        return bool(self.local.finish_canceled(job_id, worker))

    def release(self, job_id: int, worker: Worker, reason: str) -> bool:
        """Ctrl-C / SIGTERM: back to the head of its queue, no attempt charged."""
        held = self.held.pop(job_id)
        back = self.redis.requeue(held.queue, held.remote.raw, held.remote.id, held.holder, False,
                                  self.results.lease_s)
        self.local.release(job_id, worker, f"{reason} ({held.queue})")
        return back is not None

    # -- after a job ------------------------------------------------------------------------------

    def after_job(self, outcome: Outcome) -> None:
        """The runner's hook: publish and report (completed), retry or give up (failed), report canceled.
        The job stays in `held` until this returns, so the presence thread keeps its lease alive through a
        slow upload and the callback."""
        held = self.held.get(outcome.job_id)
        if held is None:
            return
        try:
            if outcome.status == COMPLETED:
                self.results.completed(held, outcome.job_id)
            elif outcome.status == FAILED:
                self.results.failed(held, outcome.error or "failed")
            elif outcome.status == CANCELED:
                self.results.canceled(held)
            else:
                self.say(f"job {held.remote.id}: {outcome.error}; this worker's result is dropped")
        finally:  # only this attempt's entry: the same job may be held again by a newer claim already
            if self.held.get(outcome.job_id) is held:
                self.held.pop(outcome.job_id)

    # -- the rest of the seam ---------------------------------------------------------------------

    def reap(self, worker: Worker) -> list[tuple[Any, str]]:
        mine = frozenset(h.remote.id for h in list(self.held.values()))
        return [*self.local.reap(worker), *self.results.reap(mine)]

    def cancel(self, job_id: Any) -> str:
        return self.redis.cancel(str(job_id))

    def pending_enhancements(self, limit: int) -> list[Job]:
        return []  # the remote lists are shared: another machine may take those jobs first
