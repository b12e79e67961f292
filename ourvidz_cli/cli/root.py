"""The root Typer app and the global settings every command reads (set by the root callback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ourvidz_cli.app import App, Settings

app = typer.Typer(
    help="ourvidz: image and video generation on one GPU, with a SQLite job ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion for bash, zsh, fish (cli.complete answers)
    rich_markup_mode=None,
)


def sub_app(help_text: str, **kwargs: bool) -> typer.Typer:
    """A command group (`ourvidz queue ...`); main.py adds it under its noun."""
    return typer.Typer(help=help_text, no_args_is_help=not kwargs.get("invoke_without_command", False), **kwargs)


class State:
    settings: Settings | None = None
    debug: bool = False


def workspace() -> App:
    """The workspace the root options chose (imported here, not at start-up: `--help` needs none of it)."""
    from ourvidz_cli.app import App, Settings
    from ourvidz_cli.paths import resolve_home

    if State.settings is None:
        State.settings = Settings(home=resolve_home(None))
    return App(State.settings)
