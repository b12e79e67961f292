"""Where state lives: one data home holds the ledger, outputs, logs and smoke models."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def default_home() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ourvidz"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ourvidz"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "ourvidz"


def resolve_home(option: str | None) -> Path:
    """--home beats OURVIDZ_HOME beats the per-user data dir."""
    raw = option or os.environ.get("OURVIDZ_HOME")
    return Path(raw).expanduser().resolve() if raw else default_home()


def ledger_path(home: Path) -> Path:
    return home / "ledger.db"


def outputs_dir(home: Path) -> Path:
    return home / "outputs"


def smoke_dir(home: Path) -> Path:
    return home / "smoke"


def logs_dir(home: Path) -> Path:
    return home / "logs"


def gallery_dir(home: Path) -> Path:
    return home / "gallery"
