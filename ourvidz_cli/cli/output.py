"""Printing: JSON (only JSON) on stdout for --json, tables on stdout otherwise, everything else on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from ourvidz_cli.api.jobs import when  # noqa: F401  (the commands' one time format, re-exported)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def out_console() -> Any:
    from rich.console import Console

    # Piped output gets room for whole rows: a table cut at 80 columns splits job type names.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def say_phase(text: str) -> None:
    err_console().print(f"  {text}", style="dim")


def table(columns: tuple[str, ...], rows: list[list[str]], title: str | None = None) -> None:
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*row)
    out_console().print(t)
