"""The ledger's SQLite file: one connection, WAL, short write transactions, migrations when behind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ourvidz_cli.errors import DiskFull, OurvidzError, UsageError, as_disk_full
from ourvidz_cli.ledger.migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


def _cannot_write(path: Path, exc: sqlite3.OperationalError) -> OurvidzError:
    """Why the ledger cannot be opened for writing. A full disk often surfaces as 'disk I/O error'
    (the -shm file cannot grow), so the free space decides, not only the message."""
    import shutil

    folder = path.parent if path.parent.is_dir() else Path("/")
    full = as_disk_full(exc, folder)
    if full is None and shutil.disk_usage(folder).free < 1_000_000:
        full = DiskFull(folder)
    if full is not None:
        return full
    if path.is_dir():
        return UsageError(f"the ledger {path} is a directory, not a file; move it away or give another --home")
    return UsageError(f"the ledger {path} cannot be written ({exc}); check the folder's permissions, or give "
                      "another --home")


def _enter_wal(conn: sqlite3.Connection, patience_s: float = 30.0) -> None:
    """Switch a new ledger to WAL. SQLite answers 'database is locked' at once, without the busy handler,
    when another process is switching the same fresh file at that moment (a worker and `worker status`
    started together on a new home), so wait that out here the way busy_timeout waits out a writer."""
    import time

    deadline = time.monotonic() + patience_s
    pause = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """A connection every store of one ledger shares. Writes go through `write()`: BEGIN IMMEDIATE takes
    the write lock up front, so two processes never interleave a read-then-write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.degraded: OurvidzError | None = None  # set when only a read-only view could be opened
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = self._open()
        except sqlite3.OperationalError as exc:
            # The file may be healthy (a full disk, a read-only folder): never advise moving it aside, and
            # keep reading it, so list/show/stats still answer and `assets delete` can free space.
            self.degraded = _cannot_write(path, exc)
            if not path.is_file():
                raise self.degraded from None
            self.conn = self._open_read_only()
        except sqlite3.DatabaseError as exc:
            raise UsageError(
                f"the ledger {path} is damaged ({exc}); restore it from a backup, or move it aside to start anew"
            ) from None

    def check_pages(self) -> None:
        """Before a run of many jobs: every page and index sound (`PRAGMA integrity_check`; `quick_check`
        misses a damaged index page). A damaged index page the scheduler reads makes `queue run` find
        nothing to do and exit 0 in silence."""
        try:
            found = [r[0] for r in self.conn.execute("PRAGMA integrity_check(3)")]
        except sqlite3.DatabaseError as exc:
            found = [str(exc)]
        if found != ["ok"]:
            raise UsageError(f"the ledger {self.path} is damaged ({'; '.join(found)[:200]}); restore it from a "
                             "backup, or move it aside to start anew")

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        _enter_wal(conn)
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            self._migrate(conn)
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """A view that needs no -wal/-shm files (which a full disk cannot create)."""
        conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            raise self.degraded or OurvidzError(f"the ledger {self.path} needs an upgrade it cannot be given now")
        return conn

    def _recover(self) -> None:
        """Before a write on a read-only view: reopen for writing if the cause has gone (space freed)."""
        try:
            conn = self._open()
        except sqlite3.OperationalError as exc:
            raise _cannot_write(self.path, exc) from None
        self.conn.close()
        self.conn, self.degraded = conn, None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        from ourvidz_cli.ledger.migrations import apply

        with _transaction(conn):
            apply(conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        if self.degraded is not None:
            self._recover()
        try:
            with _transaction(self.conn):
                yield self.conn
        except sqlite3.OperationalError as exc:
            full = as_disk_full(exc, self.path.parent)
            if full is None:
                raise
            if self.conn.in_transaction:  # a failed COMMIT leaves the transaction open
                self.conn.execute("ROLLBACK")
            raise full from None

    def insert(self, conn: sqlite3.Connection, table: str, row: dict[str, object]) -> int:
        """INSERT one row given as a dict (column names are ours, never user text)."""
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))
        return int(cur.lastrowid or 0)
