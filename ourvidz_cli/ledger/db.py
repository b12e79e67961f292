"""The ledger's SQLite file: one connection, WAL, short write transactions, migrations when behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A connection every store of one ledger shares. Writes go through `write()`: BEGIN IMMEDIATE takes
    the write lock up front, so two processes never interleave a read-then-write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 30000")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            raise UsageError(
                f"the ledger {path} cannot be opened ({exc}); move it aside or use another --home"
            ) from None

    def _migrate(self) -> None:
        from ourvidz_cli.ledger.migrations import apply

        with self.write() as conn:
            apply(conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def insert(self, conn: sqlite3.Connection, table: str, row: dict[str, object]) -> int:
        """INSERT one row given as a dict (column names are ours, never user text)."""
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))
        return int(cur.lastrowid or 0)
