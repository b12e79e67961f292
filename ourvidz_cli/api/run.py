"""Running one job now, for any caller (the CLI, a notebook, a service): skip repeats, a warm worker on this
ledger, or this process. Nothing here prints, and nothing installs signal handlers (the CLI turns SIGTERM
into an interrupt around these calls; a library must not behind its caller's back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ourvidz_cli.api.handoff import via_worker
from ourvidz_cli.api.runner import RunFlags, Voice, make_runner

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.catalog.resolve import JobSpec


def outcome_now(app: App, spec: JobSpec, flags: RunFlags, extra: dict[str, Any], use_worker: bool, reuse: bool,
                voice: Voice) -> Any:
    """One job's outcome: from an identical finished job's files (`reuse`), a warm worker on this ledger
    (`use_worker`), or this process."""
    outcome = reused(app, spec, extra, voice.say) if reuse and spec.fingerprint else None
    if outcome is None and use_worker:
        outcome = via_worker(app, spec, flags, voice)
    if outcome is None:
        outcome = make_runner(app, flags, voice).generate_now(spec)
    return outcome


def reused(app: App, spec: JobSpec, extra: dict[str, Any], say: Callable[[str], None]) -> Any:
    """A completed job's outputs for an identical request (its id goes into `extra`), or None."""
    from ourvidz_cli.engine.jobs.report import Outcome
    from ourvidz_cli.library.reuse import find_reusable

    hit = find_reusable(app.ledger, app.home, spec.fingerprint or "")
    if hit is None:
        return None
    original, paths = hit
    job_id = app.ledger.queue.add_reused(spec, original)
    say(f"job {job_id}: the same request as job {original['id']}, whose outputs are intact; reusing them "
        "(--force renders it again)")
    extra["reused_from"] = original["id"]
    return Outcome(job_id, spec.job_type, "completed", paths, None, 0.0, original["enhanced_prompt"],
                   spec.config.smoke)
