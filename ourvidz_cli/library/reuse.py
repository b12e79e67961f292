"""Skip repeats: a request identical to a completed one (same fingerprint) whose files are all still
there, unchanged in size, is answered with those files."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def intact_outputs(home: Path, assets: list[dict[str, Any]]) -> list[str] | None:
    """The outputs' paths, or None when any is gone or changed size (then the request runs again)."""
    paths = []
    for asset in assets:
        path = home / asset["path"]
        try:
            if path.stat().st_size != asset["bytes"]:
                return None
        except OSError:
            return None
        paths.append(str(path))
    return paths or None


def find_reusable(ledger: Any, home: Path, fingerprint: str) -> tuple[dict[str, Any], list[str]] | None:
    """The completed job this request repeats, and its outputs, if they are intact."""
    hit = ledger.jobs.reusable(fingerprint)
    if hit is None:
        return None
    job, assets = hit
    paths = intact_outputs(home, assets)
    return None if paths is None else (job, paths)
