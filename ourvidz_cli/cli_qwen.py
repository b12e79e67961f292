"""Qwen commands: enhance a prompt, plan a storyboard, show and render projects. Parse, call, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ourvidz_cli.cli_common import (
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    app,
    emit_json,
    err_console,
    out_console,
    project_app,
    studio,
)

TARGETS = ("sdxl", "wan-image", "wan-video")


def _phase(text: str) -> None:
    err_console().print(f"  {text}", style="dim")


@app.command()
def enhance(
    prompt: Annotated[str, typer.Argument(help="The prompt to rewrite.")],
    target: Annotated[str, typer.Option("--for", help=f"Which model it is for: {', '.join(TARGETS)}.")] = "sdxl",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask Qwen again even if the answer is cached.")] = False,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rewrite a prompt with Qwen for SDXL or Wan, as the enhanced job types do; prints the result."""
    s = studio()
    result = s.enhance(prompt, target, use_cache=not no_cache, device=device, on_phase=_phase)
    if as_json:
        emit_json({**result.as_dict(), "model_loads": s.model_loads})
        return
    print(result.output)
    if result.note:
        err_console().print(f"note: {result.note}")
    if result.cached:
        err_console().print("(from the cache; --no-cache asks Qwen again)")


@app.command()
def storyboard(
    script: Annotated[Path, typer.Argument(metavar="SCRIPT", help="A text file with the story.")],
    job_type: Annotated[str, typer.Option("--type", help="Job type for every scene.")] = "video_fast",
    scenes: Annotated[int | None, typer.Option("--scenes", help="How many scenes (default: Qwen decides).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Project name (default: the file's name).")] = None,
    seed: SeedOpt = None,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split a script into scenes with Qwen, keep characters consistent, and queue one job per scene."""
    result = studio().storyboard(script, job_type, scenes, name, seed=seed, device=device, on_phase=_phase)
    if as_json:
        emit_json(result)
        return
    out = out_console()
    for sc in result["scenes"]:
        out.print(f"{sc['idx'] + 1}. {sc['title']}  (job {sc['job_id']}, {sc['duration_s']:g}s)", highlight=False)
    err = err_console()
    if result["note"]:
        err.print(f"note: {result['note']}")
    err.print(f"project '{result['project']}': {len(result['scenes'])} scene(s) queued; "
              f"run them with 'ourvidz queue run', then 'ourvidz project render {result['project']}'")


@project_app.command("show")
def project_show(name: Annotated[str, typer.Argument(help="Project name.")], as_json: JsonOpt = False) -> None:
    """A project's scenes, with their status and outputs."""
    s = studio()
    project = s.ledger.project(name)
    for scene in project["scenes"]:
        for a in scene["outputs"]:
            a["file"] = str(s.home / a["path"])
    if as_json:
        emit_json(project)
        return
    from rich.table import Table

    table = Table(title=f"project {name} ({project['job_type']}, scenes from {project['source']})")
    for col in ("#", "title", "job", "status", "seconds", "output / error"):
        table.add_column(col)
    for sc in project["scenes"]:
        table.add_row(str(sc["idx"] + 1), sc["title"], str(sc["job_id"]), sc["status"] or "?",
                      f"{sc['duration_s']:g}", sc["error"] or "\n".join(a["file"] for a in sc["outputs"]))
    out = out_console()
    out.print(table)
    for c in project["characters"]:
        out.print(f"{c['name']}: {c['description']}", highlight=False)
    if project["render_path"]:
        out.print(f"rendered: {project['render_path']}", highlight=False)


@project_app.command("render")
def project_render(
    name: Annotated[str, typer.Argument(help="Project name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the MP4.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Join the finished scene videos, in order, into one MP4."""
    result = studio().render_project(name, out)
    if as_json:
        emit_json(result)
    else:
        print(result["path"])
        err_console().print(f"{result['scenes']} scenes, {result['frames']} frames")
