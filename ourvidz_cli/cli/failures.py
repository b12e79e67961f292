"""What the machine said no to, as one line and an exit code: a full disk, a damaged ledger, a path
that cannot be written, bytes that are not UTF-8. Everything here is an environment or input fault the
user can act on, so it never reaches the 'unexpected' catch-all."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from ourvidz_cli.errors import as_disk_full


def describe(exc: BaseException, home: Path | None) -> tuple[str, int] | None:
    """(message, exit code) for a known environment fault, or None."""
    where = home or Path.cwd()
    full = as_disk_full(exc, where)
    if full is not None:
        return f"error: {full}", 1
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return f"error: the ledger in {where} stayed locked by another ourvidz process for 30 s ({exc}); retry", 1
    damaged = type(exc) is sqlite3.DatabaseError or (  # not a busy or full database: the file itself
        isinstance(exc, sqlite3.DatabaseError) and any(s in str(exc) for s in ("malformed", "Could not decode")))
    # Text the ledger wrote was valid UTF-8; bytes that no longer decode are a damaged page, not input.
    damaged = damaged or (isinstance(exc, UnicodeDecodeError) and _raised_in_ledger(exc))
    if damaged:
        return (f"error: the ledger {where / 'ledger.db'} is damaged ({exc}); 'ourvidz doctor' shows what it can "
                "still read; restore it from a backup, or move it aside to start a new one"), 2
    if isinstance(exc, OSError):
        return _os_error(exc, where)
    if isinstance(exc, UnicodeError):
        return (f"error: input that is not valid UTF-8 ({getattr(exc, 'reason', exc)}); check the terminal's or "
                "file's encoding"), 2
    return None


def _raised_in_ledger(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        folder = Path(tb.tb_frame.f_code.co_filename).parent
        if (folder.parent.name, folder.name) == ("ourvidz_cli", "ledger"):
            return True
        tb = tb.tb_next
    return False


def _os_error(exc: OSError, where: Path) -> tuple[str, int] | None:
    target = Path(exc.filename) if exc.filename else where
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"error: cannot write {target}: {exc.strerror}; choose a writable --home or output path", 2
    if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ENOENT):
        return f"error: {target}: {exc.strerror}; choose another path", 2
    return None
