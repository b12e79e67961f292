"""`ourvidz enhance` and `ourvidz storyboard`: Qwen on its own, outside a generation job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ourvidz_cli.cli.options import DeviceOpt, JsonOpt, SeedOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console, say_phase
from ourvidz_cli.cli.root import app, studio, workspace

TARGETS = ("sdxl", "wan-image", "wan-video")


@app.command()
def enhance(
    prompt: Annotated[str, typer.Argument(help="The prompt to rewrite.")],
    target: Annotated[str, typer.Option("--for", help=f"Which model it is for: {', '.join(TARGETS)}.")] = "sdxl",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask Qwen again even if the answer is cached.")] = False,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rewrite a prompt with Qwen for SDXL or Wan, as the enhanced job types do; prints the result."""
    from ourvidz_cli.cli.progress import ConsoleProgress

    st = studio(device)
    result = st.enhance(prompt, target, use_cache=not no_cache, on_progress=ConsoleProgress())
    if as_json:
        emit_json({**result.as_dict(), "model_loads": st.engine.loads})
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
    from ourvidz_cli.prompts.projects import plan_project

    ws = workspace()
    result = plan_project(ws.catalog, ws.ledger, ws.engine(device), script, job_type, scenes, name, seed=seed,
                          on_phase=say_phase)
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
