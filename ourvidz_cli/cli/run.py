"""Running jobs from a command: the API's run-now path and runner (api.run) speaking on stderr, the
printing of a run-now's outcome, and SIGTERM handling (which only a command may install)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from ourvidz_cli.api import run as api_run
from ourvidz_cli.api.run import RunFlags, Voice
from ourvidz_cli.cli.output import emit_json, err_console, say_phase

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.catalog.resolve import JobSpec


def cli_voice() -> Voice:
    """Progress bars and notes on stderr, so stdout stays data."""
    from ourvidz_cli.cli.progress import ConsoleReporter

    return Voice(ConsoleReporter, say_phase)


def make_runner(app: App, flags: RunFlags, queue: Any = None, worker: Any = None) -> Any:
    """The API's runner, speaking on stderr."""
    return api_run.make_runner(app, flags, cli_voice(), queue, worker)


def run_now(app: App, spec: JobSpec, flags: RunFlags, as_json: bool, extra: dict[str, Any] | None = None,
            use_worker: bool = True, reuse: bool = True, ab: bool = False) -> None:
    """Run one job now and print its outputs (or one JSON object); exit 1 if it failed. With `ab`, then the
    same job on the raw prompt, linked to it, whose outputs follow (in JSON: under "pair")."""
    from ourvidz_cli.catalog.resolve import raw_twin

    flags.check()  # before the job is written
    if ab:
        raw_twin(spec, 0)  # a job type that is not enhanced is refused before anything runs
    extra = dict(extra or {})
    outcomes = [outcome_now(app, spec, flags, extra, use_worker, reuse)]
    if ab:
        twin_extra: dict[str, Any] = {}
        outcomes.append(outcome_now(app, raw_twin(spec, outcomes[0].job_id), flags, twin_extra, use_worker, reuse))
        extra["pair"] = {**outcomes[1].as_dict(), **twin_extra, "pair_of": outcomes[0].job_id}
        err_console().print(f"A/B: job {outcomes[0].job_id} (enhanced) and job {outcomes[1].job_id} (raw prompt); "
                            "'ourvidz gallery' shows them side by side")
    if as_json:
        emit_json({**outcomes[0].as_dict(), **extra})
    else:
        for path in [p for outcome in outcomes for p in outcome.outputs]:
            print(path)
    failed = [o for o in outcomes if o.status != "completed"]
    for outcome in failed if not as_json else []:
        err_console().print(f"error: job {outcome.job_id} {outcome.status}: {outcome.error} "
                            f"(details: ourvidz jobs show {outcome.job_id})")
    if failed:
        raise typer.Exit(1)


def outcome_now(app: App, spec: JobSpec, flags: RunFlags, extra: dict[str, Any], use_worker: bool,
                reuse: bool) -> Any:
    """The API's run-now path, with SIGTERM taking the same clean path as Ctrl-C."""
    with sigterm_as_interrupt():
        return api_run.outcome_now(app, spec, flags, extra, use_worker, reuse, cli_voice())


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`) takes the same clean path as Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
