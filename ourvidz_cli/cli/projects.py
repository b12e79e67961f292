"""`ourvidz project ...`: a storyboard project's scenes and status, and the joined video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ourvidz_cli.cli.options import JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console
from ourvidz_cli.cli.root import sub_app, workspace

project_app = sub_app("Storyboard projects: scenes, status, the joined video.")


@project_app.command("show")
def project_show(name: Annotated[str, typer.Argument(help="Project name.")], as_json: JsonOpt = False) -> None:
    """A project's scenes, with their status and outputs."""
    ws = workspace()
    project = ws.ledger.projects.get(name)
    for scene in project["scenes"]:
        for a in scene["outputs"]:
            a["file"] = str(ws.home / a["path"])
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
    from ourvidz_cli.library.concat import render_project

    ws = workspace()
    result = render_project(ws.ledger, ws.home, name, out)
    if as_json:
        emit_json(result)
    else:
        print(result["path"])
        err_console().print(f"{result['scenes']} scenes, {result['frames']} frames")
