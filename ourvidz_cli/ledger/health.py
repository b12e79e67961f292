"""Checking a ledger file without opening it for writing (what `doctor` reports)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LedgerHealth:
    readable: bool
    error: str | None = None
    integrity: list[str] = field(default_factory=list)
    dangling_assets: int = 0
    jobs: int = 0
    asset_files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.readable and self.integrity == ["ok"] and not self.dangling_assets


def inspect(path: Path) -> LedgerHealth:
    """Integrity check, foreign keys, job count and the asset files the ledger expects, read-only."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            dangling = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            sound = integrity == ["ok"]
            files = [(r[0], r[1]) for r in conn.execute("SELECT path, bytes FROM assets")] if sound else []
            jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0] if sound else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return LedgerHealth(readable=False, error=str(exc))
    return LedgerHealth(True, None, integrity, dangling, jobs, files)


def recent_job_ids(path: Path, limit: int = 30) -> list[int]:
    """The newest job ids, read-only and without migrating (shell completion asks while the user types)."""
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id DESC LIMIT ?", (limit,))]
        finally:
            conn.close()
    except sqlite3.Error:
        return []
