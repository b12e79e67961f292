"""Where state lives: one data home holds the ledger, outputs, logs and smoke models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ourvidz_cli.errors import UsageError


def default_home() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ourvidz"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "ourvidz"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "ourvidz"


def resolve_home(option: str | None) -> Path:
    """--home beats OURVIDZ_HOME beats the per-user data dir. An empty --home is refused rather than
    read as the current directory, and so is a path that is (or lies under) a file."""
    raw = option if option is not None else (os.environ.get("OURVIDZ_HOME") or None)  # empty env = unset
    if raw is not None and not raw.strip():
        raise UsageError(f"--home is empty; give a folder, or leave it out for {default_home()}")
    home = Path(raw).expanduser().resolve() if raw else default_home()
    check_folder(home, "--home" if option is not None else "OURVIDZ_HOME" if raw else "the data home")
    return home


def check_folder(path: Path, what: str) -> None:
    """A folder we will create files in must be a folder, or not exist under something that is one."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise UsageError(f"{what} {path}: {part} is a file, not a folder; choose another path")
            return


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
