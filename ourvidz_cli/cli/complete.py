"""Shell completion (`ourvidz --install-completion`): job types, model names, samplers, bucket names and
recent job ids, answered from the catalog and the ledger without importing torch (the shell waits)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any


def _catalog() -> Any:
    """The catalog the command line would use: OURVIDZ_CONFIG, else the packaged one (--smoke shares its
    names)."""
    from ourvidz_cli.catalog.load import load_catalog, packaged_catalog_path

    config = os.environ.get("OURVIDZ_CONFIG")
    try:
        return load_catalog(Path(config) if config else packaged_catalog_path())
    except Exception:  # noqa: BLE001  a broken catalog completes nothing rather than breaking the shell
        return None


def _starting(names: list[str], incomplete: str) -> list[str]:
    return [n for n in names if n.startswith(incomplete)]


def job_types(incomplete: str) -> list[str]:
    cat = _catalog()
    return _starting(list(cat.job_types) if cat else [], incomplete)


def models(incomplete: str) -> list[str]:
    cat = _catalog()
    return _starting(list(cat.models) if cat else [], incomplete)


def buckets(incomplete: str) -> list[str]:
    cat = _catalog()
    return _starting(list(cat.buckets) if cat else [], incomplete)


def samplers(incomplete: str) -> list[str]:
    from ourvidz_cli.engine.families.registry import FAMILIES

    names = [name for fam in FAMILIES.values() for name in getattr(fam, "samplers", {})]
    return [n for n in names if n.lower().startswith(incomplete.lower())]


def job_ids(incomplete: str) -> list[str]:
    """The 30 newest jobs of this data home, read-only."""
    from ourvidz_cli.paths import ledger_path, resolve_home

    path = ledger_path(resolve_home(None))
    if not path.is_file():
        return []
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT id FROM jobs ORDER BY id DESC LIMIT 30").fetchall()
    except sqlite3.Error:
        return []
    return _starting([str(r[0]) for r in rows], incomplete)
