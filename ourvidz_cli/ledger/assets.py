"""Output assets: the rows `complete()` writes, read back joined with the jobs that made them."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from ourvidz_cli.errors import NotFound, UsageError
from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import MAX_ID
from ourvidz_cli.queue import STATUSES

# A search with any of these is an FTS5 query (phrases, prefix*, AND/OR/NOT, NEAR, groups); anything else
# is plain text, matched as a substring as before the index existed.
_FTS_SYNTAX = re.compile(r'["*()^]|\b(AND|OR|NOT|NEAR)\b')
FTS_HELP = 'FTS syntax: "a phrase", prefix*, boat AND (red OR blue), fog NOT night'


def is_fts(query: str) -> bool:
    return bool(_FTS_SYNTAX.search(query))


ASSET_COLUMNS = """
    a.id, a.job_id, a.idx, a.bucket, a.path, a.kind, a.mime, a.bytes, a.sha256, a.width, a.height, a.frames,
    a.fps, a.created_at, j.type AS job_type, j.status AS job_status, j.prompt, j.enhanced_prompt,
    j.negative_prompt, j.seed, j.duration_s, j.load_s, j.generate_s, j.enhance_s, j.peak_mem_mb, j.device
"""


@dataclass(frozen=True)
class AssetFilter:
    bucket: str | None = None
    job_type: str | None = None
    status: str | None = None
    since: float | None = None
    search: str | None = None
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if self.bucket:
            clauses.append("a.bucket = ?")
            args.append(self.bucket)
        if self.job_type:
            clauses.append("j.type = ?")
            args.append(self.job_type)
        if self.status:
            if self.status not in STATUSES:
                raise UsageError(f"--status '{self.status}' is not one of {', '.join(STATUSES)}")
            clauses.append("j.status = ?")
            args.append(self.status)
        if self.since is not None:
            clauses.append("a.created_at >= ?")
            args.append(self.since)
        if self.search and is_fts(self.search):
            clauses.append("s.job_search MATCH ?")  # ranked by relevance: see AssetStore.list
            args.append(self.search)
        elif self.search:
            # instr, not LIKE: the user's % and _ are literal text, and case folds for ASCII via lower().
            clauses.append("(instr(lower(j.prompt), lower(?)) > 0 OR instr(lower(coalesce(j.enhanced_prompt, '')), "
                           "lower(?)) > 0 OR instr(lower(coalesce(json_extract(j.config, '$.template'), '')), "
                           "lower(?)) > 0)")  # a wildcard prompt's template too
            args += [self.search] * 3
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


class AssetStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def for_job(self, job_id: int) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT * FROM assets WHERE job_id = ? ORDER BY idx", [job_id])
        return [dict(r) for r in rows]

    def by_job(self) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for row in self.db.conn.execute("SELECT * FROM assets ORDER BY job_id, idx"):
            out.setdefault(row["job_id"], []).append(dict(row))
        return out

    def list(self, flt: AssetFilter) -> list[dict[str, Any]]:
        """Newest first; an FTS search most relevant first (bm25), then newest."""
        where, args = flt.where()
        source, order = "assets a JOIN jobs j ON j.id = a.job_id", "a.created_at DESC, a.job_id DESC, a.idx"
        if flt.search and is_fts(flt.search):
            source, order = f"{source} JOIN job_search s ON s.rowid = j.id", f"s.rank, {order}"
        sql = f"SELECT {ASSET_COLUMNS} FROM {source}{where} ORDER BY {order}"
        if flt.limit:
            sql += f" LIMIT {int(flt.limit)}"
        try:
            return [dict(r) for r in self.db.conn.execute(sql, args)]
        except sqlite3.OperationalError as exc:
            if not flt.search or not is_fts(flt.search) or "locked" in str(exc):
                raise
            raise UsageError(f"--search {flt.search!r} is not a valid search ({exc}); {FTS_HELP}") from None

    def get(self, asset_id: int) -> dict[str, Any]:
        row = self.db.conn.execute(
            f"SELECT {ASSET_COLUMNS} FROM assets a JOIN jobs j ON j.id = a.job_id WHERE a.id = ?", [asset_id]
        ).fetchone() if 0 <= asset_id <= MAX_ID else None
        if row is None:
            raise NotFound(f"no asset {asset_id} in {self.db.path}; 'ourvidz assets list' shows them")
        return dict(row)

    def delete(self, asset_id: int) -> None:
        """The asset's row and its sync record, together."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM sync_assets WHERE asset_id = ?", [asset_id])
            conn.execute("DELETE FROM assets WHERE id = ?", [asset_id])
