"""Exceptions that the CLI turns into one line on stderr and an exit code."""


class OurvidzError(Exception):
    """An operation failed; the message says what happened and what to do."""

    exit_code = 1


class UsageError(OurvidzError):
    """Bad usage or input: nothing was written."""

    exit_code = 2


class CatalogError(UsageError):
    """The catalog (models.toml) is missing, malformed or inconsistent."""


class NotFound(UsageError):
    """A job or asset id that the ledger does not hold."""


class Interrupted(OurvidzError):
    """Ctrl-C or SIGTERM; the job in hand went back to the queue."""

    exit_code = 130


def free_space(path: object) -> str:
    """'N MB free in <folder>' for the nearest existing folder of `path`."""
    import shutil
    from pathlib import Path

    for part in (Path(str(path)), *Path(str(path)).parents):
        if part.is_dir():
            return f"{shutil.disk_usage(part).free / 1e6:.1f} MB free in {part}"
    return f"unknown space free for {path}"


class DiskFull(OurvidzError):
    """No space left where ourvidz writes; the message says how much is free, and where."""

    def __init__(self, path: object) -> None:
        super().__init__(f"disk full: {free_space(path)}; free some space (for example with 'ourvidz assets "
                         "delete ...') and run the command again")


def as_disk_full(exc: BaseException, where: object) -> DiskFull | None:
    """The DiskFull that `exc` amounts to (ENOSPC from a file write, SQLite's 'database or disk is
    full'), or None."""
    import errno
    import sqlite3
    from pathlib import Path

    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DiskFull(Path(str(exc.filename)).parent if exc.filename else where)
    if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
        return DiskFull(where)
    return None
