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
