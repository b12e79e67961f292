"""Progress on stderr, drawn from the API's progress events (api.events), the same ones a Python caller's
`on_progress` receives: a bar per job's denoising steps, a line per phase, so stdout stays data."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ourvidz_cli.api.events import Event, JobFinished, JobStarted, Phase, Step

SMOKE_NOTE = "  [dim](smoke profile: tiny random-weight models, outputs are noise)[/dim]"
STATUS_STYLE = {"completed": "green", "failed": "red", "canceled": "yellow"}


class ConsoleProgress:
    """An `on_progress` callback that draws on stderr (`quiet`: only closes what it drew)."""

    def __init__(self, quiet: bool = False) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, JobFinished):
            self._finished(event)
        elif self.quiet:
            return
        elif isinstance(event, JobStarted):
            smoke = SMOKE_NOTE if event.smoke else ""
            self.console.print(f"job {event.job_id} {event.job_type}: {event.prompt[:70]!r}{smoke}")
        elif isinstance(event, Phase):
            self._phase(event.text)
        elif isinstance(event, Step):
            self._step(event.done, event.total)

    def _phase(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)
        else:
            self.console.print(f"  {text}", style="dim")

    def _step(self, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                TimeElapsedColumn(), console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("denoising", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total, description="denoising")

    def _finished(self, event: JobFinished) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task = None, None
        if self.quiet:
            return
        style = STATUS_STYLE.get(event.status, "yellow")
        detail = f": {event.error}" if event.error else f" in {event.duration_s:.1f}s"
        # Named: with writes overlapped, the next job's header is already above this line.
        self.console.print(f"  job {event.job_id} [{style}]{event.status}[/{style}]{detail}")

