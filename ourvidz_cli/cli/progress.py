"""Progress on stderr: a bar per job's denoising steps, a line per phase, so stdout stays data."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ourvidz_cli.engine.report import Outcome


class ConsoleReporter:
    def __init__(self, quiet: bool = False) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._job: dict[str, Any] | None = None

    def job_started(self, job: dict[str, Any]) -> None:
        self._job = job
        if self.quiet:
            return
        smoke = "  [dim](smoke profile: tiny random-weight models, outputs are noise)[/dim]" if job["config"].smoke \
            else ""
        self.console.print(f"job {job['id']} {job['type']}: {job['prompt'][:70]!r}{smoke}")

    def phase(self, text: str) -> None:
        if self.quiet:
            return
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        else:
            self.console.print(f"  {text}", style="dim")

    def step(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                TimeElapsedColumn(), console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("denoising", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total, description="denoising")

    def job_finished(self, outcome: Outcome) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task = None, None
        if self.quiet:
            return
        style = {"completed": "green", "failed": "red", "canceled": "yellow"}.get(outcome.status, "yellow")
        detail = f": {outcome.error}" if outcome.error else f" in {outcome.duration_s:.1f}s"
        # Named: with writes overlapped, the next job's header is already above this line.
        self.console.print(f"  job {outcome.job_id} [{style}]{outcome.status}[/{style}]{detail}")
