"""Shell completion (`ourvidz --install-completion`): job types, model names, samplers, bucket names and
recent job ids, answered from the catalog and the ledger without importing torch (the shell waits)."""

from __future__ import annotations

import os
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


def _catalog_names(table: str, incomplete: str) -> list[str]:
    """The names of one of the catalog's tables ("job_types", "models", "buckets") that start so."""
    cat = _catalog()
    return _starting(list(getattr(cat, table)) if cat else [], incomplete)


def job_types(incomplete: str) -> list[str]:
    return _catalog_names("job_types", incomplete)


def models(incomplete: str) -> list[str]:
    return _catalog_names("models", incomplete)


def buckets(incomplete: str) -> list[str]:
    return _catalog_names("buckets", incomplete)


def samplers(incomplete: str) -> list[str]:
    from ourvidz_cli.engine.families.registry import FAMILIES

    names = [name for fam in FAMILIES.values() for name in getattr(fam, "samplers", {})]
    return [n for n in names if n.lower().startswith(incomplete.lower())]


def job_ids(incomplete: str) -> list[str]:
    """The 30 newest jobs of this data home."""
    from ourvidz_cli.ledger.health import recent_job_ids
    from ourvidz_cli.paths import ledger_path, resolve_home

    return _starting([str(i) for i in recent_job_ids(ledger_path(resolve_home(None)))], incomplete)
