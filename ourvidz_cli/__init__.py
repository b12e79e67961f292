"""ourvidz: a local image and video generation studio with a SQLite job ledger.

From Python: `from ourvidz_cli import Studio` (docs/python-api.md). The names below load on first use, so
the command line's start-up pays for none of them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Studio": "ourvidz_cli.api.studio", "Result": "ourvidz_cli.api.result", "JobFailed": "ourvidz_cli.api.result",
    "JobStarted": "ourvidz_cli.api.events", "Phase": "ourvidz_cli.api.events", "Step": "ourvidz_cli.api.events",
    "JobFinished": "ourvidz_cli.api.events", "OurvidzError": "ourvidz_cli.errors",
    "UsageError": "ourvidz_cli.errors", "CatalogError": "ourvidz_cli.errors", "DiskFull": "ourvidz_cli.errors",
    "Interrupted": "ourvidz_cli.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ourvidz_cli' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
