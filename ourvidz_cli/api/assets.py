"""A Studio's generated files (`studio.assets`), as `ourvidz assets list` shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ourvidz_cli.app import App


class AssetsApi:
    """The files every completed job wrote, each with how it was made."""

    def __init__(self, app: App) -> None:
        self.app = app

    def list(self, bucket: str | None = None, search: str | None = None, since: str | None = None,
             limit: int | None = None, job_type: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Generated files, newest first: in a bucket, of a job type, whose job has a status, made within
        `since` ("7d", "12h", a date), whose prompt matches `search` (plain text, or FTS syntax)."""
        from ourvidz_cli.ledger import AssetFilter
        from ourvidz_cli.library.assets import Library, parse_since

        flt = AssetFilter(bucket=bucket, job_type=job_type, status=status,
                          since=parse_since(since) if since else None, search=search, limit=limit)
        return list(Library(self.app.ledger, self.app.home).list(flt))
