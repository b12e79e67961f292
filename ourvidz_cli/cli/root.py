"""The root Typer app and the global settings every command reads (set by the root callback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ourvidz_cli.api.studio import Studio
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


def studio(device: str | None = None, vram_budget: str | None = None, compile_: bool = False,
           sync: bool = False) -> Studio:
    """The API's Studio on the workspace the root options chose, with a command's run options."""
    from ourvidz_cli.api.studio import Studio

    settings = workspace().settings
    return Studio(home=settings.home, smoke=settings.smoke, config=settings.config, device=device,
                  vram_budget=vram_budget, compile=compile_, sync=sync)
