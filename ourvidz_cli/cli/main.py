"""The `ourvidz` entry point: the root options, the command groups, and the one place that turns
errors into one line on stderr and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ourvidz_cli import __version__
from ourvidz_cli.cli import (  # noqa: F401  (grid registers its command on import)
    assets,
    generate,
    grid,
    jobs,
    library,
    models,
    projects,
    prompts,
    queue,
    selftest,
    sync,
    worker,
)
from ourvidz_cli.cli.root import State, app
from ourvidz_cli.errors import OurvidzError, UsageError

# Importing a command module registers its top-level commands; its group goes under its noun here.
app.add_typer(queue.queue_app, name="queue")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(models.models_app, name="models")
app.add_typer(assets.assets_app, name="assets")
app.add_typer(projects.project_app, name="project")
app.add_typer(sync.sync_app, name="sync")
app.add_typer(worker.worker_app, name="worker")
_REGISTERED = (generate, library, prompts, selftest)


def _print_version(value: bool) -> None:
    """Eager, so `ourvidz --version` answers before Click asks for a command."""
    if value:
        print(f"ourvidz {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    home: Annotated[str | None, typer.Option("--home", help="Data home (env OURVIDZ_HOME).")] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="Use tiny random-weight models (built if missing).")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", envvar="OURVIDZ_CONFIG", help="Another catalog (models.toml).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", help="Print the version and exit.", is_eager=True, callback=_print_version)] = False,
) -> None:
    """ourvidz: image and video generation on one GPU, with a SQLite job ledger."""
    if smoke and config:
        raise UsageError("--smoke and --config both pick a catalog; use one")
    from ourvidz_cli.app import Settings
    from ourvidz_cli.paths import resolve_home

    State.settings = Settings(home=resolve_home(home), config=config, smoke=smoke)
    State.debug = debug


def _parser_error(exc: Exception) -> tuple[str, int] | None:
    """Typer's command-line errors as (message, exit code); matched by class name because Typer
    vendors its own copy of click in recent releases and uses the real one in older ones."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    ctx = getattr(exc, "ctx", None)
    if "NoArgsIsHelpError" in names and ctx is not None:
        return ctx.get_help(), 2
    if "UsageError" in names:
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        return f"error: {exc.format_message()}{hint}", 2  # type: ignore[attr-defined]
    if "ClickException" in names:
        return f"error: {exc.format_message()}", int(getattr(exc, "exit_code", 1))  # type: ignore[attr-defined]
    if "Abort" in names:
        return "interrupted", 130
    return None


def main() -> None:
    """Entry point: one line on stderr and a meaningful exit code, never a traceback (but --debug)."""
    try:
        code = app(standalone_mode=False)
    except OurvidzError as exc:
        if State.debug:  # the traceback, and still the exit code scripts branch on
            import traceback

            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001  (the promise is: no traceback without --debug)
        from ourvidz_cli.cli.failures import describe

        settings = getattr(State, "settings", None)
        parsed = _parser_error(exc) or describe(exc, getattr(settings, "home", None))
        if parsed is None and State.debug:
            raise
        message, code = parsed or (
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback)", 1)
        print(message, file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def entry() -> None:
    """The installed `ourvidz` and `python -m ourvidz_cli`: main(), with an exact 130 after an interrupt.

    An interrupt that lands while torch is importing can leave CPython believing a KeyboardInterrupt
    went unhandled, and it then re-kills the process with SIGINT at exit: callers would see -2, not
    the 130 we promise. By then the job is back in the queue and the ledger committed, so exit now.
    """
    try:
        main()
    except SystemExit as exc:
        if exc.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise
