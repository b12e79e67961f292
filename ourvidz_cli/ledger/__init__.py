"""The job ledger: one SQLite file, and the only package that speaks SQL.

Each group of tables has one store on the shared connection (as simonw/llm gives its logs their own
store): `jobs` reads jobs, `queue` is the SQLite `JobQueue` (adding, claiming, finishing, canceling),
`assets` the outputs, `enhancements` the Qwen answer cache, `projects` storyboards, `sync` what went to
Supabase, `queries` the library's reports, `workers` the warm workers running on this ledger, `grids`
the grids (`ourvidz grid`) and their contact sheets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ourvidz_cli.ledger.assets import AssetFilter, AssetStore
from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.enhancements import EnhancementCache
from ourvidz_cli.ledger.grids import GridStore
from ourvidz_cli.ledger.jobs import JobStore
from ourvidz_cli.ledger.projects import ProjectStore
from ourvidz_cli.ledger.queries import Queries
from ourvidz_cli.ledger.queue import SqliteJobQueue
from ourvidz_cli.ledger.replay import OnJob, replay
from ourvidz_cli.ledger.sync_state import SyncStore
from ourvidz_cli.ledger.workers import WorkerStore
from ourvidz_cli.queue import ClaimOrder

__all__ = ["AssetFilter", "Ledger"]


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path)
        self.jobs = JobStore(self.db)
        self.queue = SqliteJobQueue(self.db, self.jobs)
        self.assets = AssetStore(self.db)
        self.enhancements = EnhancementCache(self.db)
        self.projects = ProjectStore(self.db, self.assets)
        self.sync = SyncStore(self.db)
        self.queries = Queries(self.db)
        self.workers = WorkerStore(self.db)
        self.grids = GridStore(self.db)

    def replay(self, order_for: Callable[[], ClaimOrder], on_job: OnJob, start: float) -> None:
        """A dry run of the queue in claim order (see `ledger.replay`); nothing is changed."""
        replay(self.db, order_for, on_job, start)

    def close(self) -> None:
        self.db.close()
