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
from ourvidz_cli.api import runner as api_runner
from ourvidz_cli.api.runner import RunFlags, Voice
from ourvidz_cli.cli.output import emit_json, err_console, say_phase

if TYPE_CHECKING:
    from ourvidz_cli.api.result import Result
    from ourvidz_cli.api.studio import Studio
    from ourvidz_cli.app import App
    from ourvidz_cli.catalog.resolve import JobSpec


def cli_voice() -> Voice:
    """Progress bars and notes on stderr (drawn from the API's events), so stdout stays data."""
    from ourvidz_cli.api.events import EventReporter
    from ourvidz_cli.cli.progress import ConsoleProgress

    return Voice(lambda: EventReporter(ConsoleProgress()), say_phase)


def make_runner(app: App, flags: RunFlags, queue: Any = None, worker: Any = None) -> Any:
    """The API's runner, speaking on stderr."""
    return api_runner.make_runner(app, flags, cli_voice(), queue, worker)


def run_now(studio: Studio, spec: JobSpec, as_json: bool, extra: dict[str, Any] | None = None,
            use_worker: bool = True, reuse: bool = True, ab: bool = False) -> None:
    """Run one job now through the API and print its outputs (or one JSON object); exit 1 if it failed. With
    `ab`, then the same job on the raw prompt, linked to it, whose outputs follow (in JSON: under "pair")."""
    from ourvidz_cli.catalog.resolve import raw_twin
    from ourvidz_cli.cli.progress import ConsoleProgress

    if ab:
        raw_twin(spec, 0)  # a job type that is not enhanced is refused before anything runs
    extra = dict(extra or {})
    with sigterm_as_interrupt():
        results = [studio.run(spec, use_worker=use_worker, reuse=reuse, on_progress=ConsoleProgress(), strict=False)]
        if ab:
            results.append(studio.run(raw_twin(spec, results[0].job_id), use_worker=use_worker, reuse=reuse,
                                      on_progress=ConsoleProgress(), strict=False))
    if ab:
        extra["pair"] = {**results[1].as_dict(), "pair_of": results[0].job_id}
        err_console().print(f"A/B: job {results[0].job_id} (enhanced) and job {results[1].job_id} (raw prompt); "
                            "'ourvidz gallery' shows them side by side")
    print_results(results, extra, as_json)


def print_results(results: list[Result], extra: dict[str, Any], as_json: bool) -> None:
    """Output paths on stdout (or the first job as one JSON object, with `extra`); exit 1 if any failed."""
    if as_json:
        emit_json({**results[0].as_dict(), **extra})
    else:
        for path in [p for result in results for p in result.outputs]:
            print(path)
    failed = [r for r in results if r.status != "completed"]
    for result in failed if not as_json else []:
        err_console().print(f"error: job {result.job_id} {result.status}: {result.error} "
                            f"(details: ourvidz jobs show {result.job_id})")
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
