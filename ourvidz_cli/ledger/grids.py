"""The `grids` table: a grid's definition (axes, and the job each cell is) and its contact sheets."""

from __future__ import annotations

import json
import time
from typing import Any

from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger.db import Database


def _grid(row: Any) -> dict[str, Any]:
    return {**dict(row), "definition": json.loads(row["definition"]), "sheets": json.loads(row["sheets"])}


class GridStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, job_type: str, prompt: str, definition: dict[str, Any]) -> int:
        with self.db.write() as conn:
            return self.db.insert(conn, "grids", {"created_at": time.time(), "job_type": job_type, "prompt": prompt,
                                                  "definition": json.dumps(definition), "sheets": "[]"})

    def get(self, grid_id: int) -> dict[str, Any]:
        row = self.db.conn.execute("SELECT * FROM grids WHERE id = ?", (grid_id,)).fetchone()
        if row is None:
            raise UsageError(f"no grid {grid_id}; 'ourvidz grid list' shows them")
        return _grid(row)

    def all(self) -> list[dict[str, Any]]:
        return [_grid(row) for row in self.db.conn.execute("SELECT * FROM grids ORDER BY id")]

    def set_sheets(self, grid_id: int, paths: list[str]) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE grids SET sheets = ? WHERE id = ?", (json.dumps(paths), grid_id))
