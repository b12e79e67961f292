"""What every command module shares: the Typer apps, global settings, and the JSON and console printers."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from ourvidz_cli.paths import resolve_home
from ourvidz_cli.studio import Settings, Studio

app = typer.Typer(
    help="ourvidz: image and video generation on one GPU, with a SQLite job ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
queue_app = typer.Typer(help="Queue jobs and run them in batches.", no_args_is_help=True)
jobs_app = typer.Typer(help="Look at individual jobs.", no_args_is_help=True)
models_app = typer.Typer(help="Models the catalog points at.", no_args_is_help=True)
assets_app = typer.Typer(help="Generated files: list, show, export, delete.", no_args_is_help=True)
app.add_typer(queue_app, name="queue")
app.add_typer(jobs_app, name="jobs")
app.add_typer(models_app, name="models")
app.add_typer(assets_app, name="assets")
project_app = typer.Typer(help="Storyboard projects: scenes, status, the joined video.", no_args_is_help=True)
app.add_typer(project_app, name="project")


class State:
    settings: Settings = Settings(home=resolve_home(None))
    debug: bool = False


def studio() -> Studio:
    return Studio(State.settings)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def out_console() -> Any:
    from rich.console import Console

    # Piped output gets room for whole rows: a table cut at 80 columns splits job type names.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def when(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts)) if ts else None


JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
StepsOpt = Annotated[str | None, typer.Option("--steps", help="Denoising steps.")]
SizeOpt = Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT, e.g. 1024x1024.")]
FramesOpt = Annotated[str | None, typer.Option("--frames", help="Video frames (Wan: 4k+1).")]
SeedOpt = Annotated[str | None, typer.Option("--seed", help="Random seed (default: a new one, stored).")]
NegOpt = Annotated[str | None, typer.Option("--negative", help="Negative prompt.")]
CountOpt = Annotated[str | None, typer.Option("--count", help="Outputs per job.")]
GuidanceOpt = Annotated[str | None, typer.Option("--guidance", help="Classifier-free guidance scale.")]
PriorityOpt = Annotated[str | None, typer.Option("--priority", help="Lower runs first (fast types: 1).")]
EnhanceOpt = Annotated[bool, typer.Option("--enhance", help="Rewrite the prompt with Qwen first (any job type).")]
BudgetOpt = Annotated[str | None, typer.Option(
    "--vram-budget", envvar="OURVIDZ_VRAM_BUDGET",
    help="Device memory models may keep, e.g. 20GB (default: all but 2 GiB; RAM on CPU).")]
CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile the denoiser (slow first job).")]
SyncOpt = Annotated[bool, typer.Option("--sync", help="Push each finished job to Supabase (see 'ourvidz sync').")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cuda, cuda:N, mps or cpu.")]
