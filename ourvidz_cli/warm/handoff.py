"""Handing a run-now job to a warm worker on this ledger, and waiting for it.

The job is queued at the top priority and the worker's bell is rung; the client then follows the job's
row (and the worker's progress record) until it is final, replaying phases and steps on its own
console. It imports no model library: the cold start is the worker's, paid once.

If the worker dies with the job in hand, the ledger's reaper puts the job back in the queue (an attempt
counted), and when no live worker is left to take it, `wait` returns None and the caller runs the job
itself. A job is run by whoever claims it, and a claim is atomic, so it is neither lost nor run twice.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ourvidz_cli.engine.jobs.report import Outcome, Reporter
from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger.workers import is_alive
from ourvidz_cli.queue import CANCELED, COMPLETED, FAILED, QUEUED, RUNNING, Job, Worker, process_alive
from ourvidz_cli.warm.bell import ring

TOP_PRIORITY = 0  # the catalog's range starts here; fast job types are 1
POLL_S = 0.05
REAP_EVERY_S = 1.0
FINAL = (COMPLETED, FAILED, CANCELED)
# A worker beats every second (warm.presence.BEAT_S): one silent for this long is paused or wedged and is
# handed nothing, and a job handed to it is taken back.
FRESH_S = 3.0
# An idle worker claims a handed job within a poll of its bell; one that has not after this is not coming.
PICKUP_S = 5.0


def fresh(worker: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return is_alive(worker, now) and now - worker["beat_at"] < FRESH_S


def compatible(settings: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a worker started with `settings` runs a job as the caller's flags ask (unset flags agree)."""
    device = wanted.get("device")
    if device not in (None, "auto") and device not in (settings.get("device"), settings.get("device_choice")):
        return False
    if wanted.get("vram_budget") not in (None, settings.get("vram_budget")):
        return False
    return not wanted.get("compile") or bool(settings.get("compile"))


def pick_worker(ledger: Any, job_type: str, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """A live warm worker that serves `job_type` as asked; an idle one first, then the longest running."""
    fits = [w for w in ledger.workers.live() if fresh(w) and job_type in w["serves"]
            and compatible(w["settings"], wanted)]
    fits.sort(key=lambda w: (w["job_id"] is not None, w["started_at"]))
    return fits[0] if fits else None


def ring_workers(ledger: Any) -> None:
    """Wake the idle warm workers: jobs were queued (`queue add`) that they would otherwise see at their
    next poll."""
    for worker in ledger.workers.live():
        if worker["job_id"] is None:
            ring(worker["bell"])


def outcome_of(ledger: Any, home: Path, job: Job) -> Outcome:
    """What the in-process run would have returned, read back from the ledger."""
    paths = [str(home / a["path"]) for a in ledger.assets.for_job(job["id"])] if job["status"] == COMPLETED else []
    return Outcome(job["id"], job["type"], job["status"], paths, job["error"], job["duration_s"] or 0.0,
                   job["enhanced_prompt"], job["config"].smoke)


class _Replay:
    """The worker's progress record shown through the client's reporter, each change once."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.started, self.seq, self.step = False, -1, (0, 0)

    def start(self, job: Job) -> None:
        if not self.started:
            self.started = True
            self.reporter.job_started(job)

    def show(self, job: Job, holder: dict[str, Any]) -> None:
        self.start(job)
        if holder["phase"] and holder["phase_seq"] != self.seq:
            self.seq = holder["phase_seq"]
            self.reporter.phase(holder["phase"])
        step = (holder["step"] or 0, holder["steps"] or 0)
        if step[0] and step != self.step:
            self.step = step
            self.reporter.step(*step)

    def end(self, outcome: Outcome) -> None:
        if self.started:
            self.reporter.job_finished(outcome)
        self.started, self.seq, self.step = False, -1, (0, 0)


class HandOff:
    def __init__(self, ledger: Any, home: Path, reporter: Reporter, say: Callable[[str], None],
                 poll_s: float = POLL_S) -> None:
        self.ledger, self.home, self.say, self.poll_s = ledger, home, say, poll_s
        self.replay = _Replay(reporter)
        self.me = Worker()  # only to reap with: this client never holds a job it did not take
        self._next_reap = self._next_ring = 0.0
        self.chosen: dict[str, Any] = {}
        self.submitted = 0.0

    def submit(self, spec: Any, worker: dict[str, Any]) -> int:
        """Queued for `worker` alone (ledger.queue._MINE): no other worker, with other settings, claims it."""
        job_id: int = self.ledger.queue.add([replace(spec, priority=TOP_PRIORITY)], assigned_to=worker["id"])[0]
        self.chosen, self.submitted = worker, time.monotonic()
        ring(worker["bell"])
        busy = f", after its job {worker['job_id']}" if worker["job_id"] else ""
        self.say(f"job {job_id} handed to warm worker {worker['id']}{busy}")
        return job_id

    def wait(self, job_id: int) -> Outcome | None:
        """The job's outcome once it is final; None when it is queued and no live worker can take it."""
        while True:
            job = self.ledger.jobs.get(job_id)
            if job["status"] in FINAL:
                self.replay.start(job)
                outcome = outcome_of(self.ledger, self.home, job)
                self.replay.end(outcome)
                return outcome
            if job["status"] == RUNNING:
                self._follow(job)
            elif job["status"] == QUEUED and not self._served(job):
                return None
            time.sleep(self.poll_s)

    def _follow(self, job: Job) -> None:
        holder = self.ledger.workers.get(job["worker"])
        if holder is not None and holder["job_id"] == job["id"]:
            self.replay.show(job, holder)
        if job["worker_host"] == socket.gethostname() and not process_alive(job["worker_pid"]):
            self.say(f"worker {job['worker']} died while running job {job['id']} (process {job['worker_pid']} is "
                     "gone); the job goes back to the queue")
            self.replay.end(Outcome(job["id"], job["type"], QUEUED, error="its worker died"))
            self._reap(force=True)
        elif holder is None or not is_alive(holder):
            self._reap(force=False)  # another host's worker: its lease decides

    def _reap(self, force: bool) -> None:
        now = time.monotonic()
        if force or now >= self._next_reap:
            self._next_reap = now + REAP_EVERY_S
            self.ledger.queue.reap(self.me)

    def _served(self, job: Job) -> bool:
        """Whether the chosen worker will still take the queued job: it beats, and it is busy with other
        work or has had it for less than PICKUP_S. It is rung again now and then in case it slept."""
        worker = self.ledger.workers.get(self.chosen.get("id", ""))
        now = time.monotonic()
        if worker is None or not fresh(worker):
            self.say(f"warm worker {self.chosen.get('id')} stopped answering; job {job['id']} is taken back")
            return False
        if worker["job_id"] is None and now - self.submitted > PICKUP_S:
            self.say(f"warm worker {worker['id']} did not pick up job {job['id']} in {PICKUP_S:.0f}s; it is taken back")
            return False
        if now >= self._next_ring:
            self._next_ring = now + 1.0
            ring(worker["bell"])
        return True

    def cancel(self, job_id: int) -> str:
        """Ctrl-C while waiting: the job was asked for now, so nobody should run it later."""
        try:
            result = self.ledger.queue.cancel(job_id)
        except UsageError:
            return f"job {job_id} had already finished ({self.ledger.jobs.get(job_id)['status']})"
        if result == CANCELED:
            return f"job {job_id} canceled before it started"
        return f"job {job_id} canceled; its worker stops it at the next step"
