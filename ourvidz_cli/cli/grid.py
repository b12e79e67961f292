"""`ourvidz grid`: every combination of up to three axes as ordinary jobs, and a labelled contact sheet of
them (`grid TYPE PROMPT --x AXIS=V1,V2 [--y ...] [--z ...] [--run]`, `grid show ID`, `grid render ID`,
`grid list`)."""

from __future__ import annotations

import itertools
import secrets
from typing import Annotated, Any

import typer

from ourvidz_cli.cli.options import (
    BudgetOpt,
    CountOpt,
    DeviceOpt,
    GuidanceOpt,
    ImageOpt,
    JsonOpt,
    NegOpt,
    SeedOpt,
    StepsOpt,
    StrengthOpt,
)
from ourvidz_cli.cli.output import emit_json, err_console
from ourvidz_cli.cli.remote import QueueOpt
from ourvidz_cli.cli.root import app, workspace
from ourvidz_cli.errors import UsageError
from ourvidz_cli.remote.transport import queue_url

AxisOpt = Annotated[str | None, typer.Option(help="AXIS=V1,V2,... (seed, steps, guidance, sampler, shift, model, "
                                                  "size, frames, variation_seed, variation_strength, lora:NAME, sr; "
                                                  "ranges 1-5, 1-10 (+2), 0.2-1.0 [5]).")]


def _cells(ws: Any, job_type: str, prompt: str, base: dict[str, Any], axes: list[Any]) -> list[tuple[Any, ...]]:
    """(x, y, z, spec) per cell, every one resolved (checked) before anything is written."""
    out = []
    for index in itertools.product(*(range(len(a.values)) for a in axes)):
        text, over = prompt, dict(base)
        for axis, i in zip(axes, index, strict=True):
            text, over = axis.apply(axis.values[i], text, over)
        try:
            spec = ws.resolve(job_type, text, over)
        except UsageError as exc:
            where = ", ".join(f"{a.name}={a.values[i]}" for a, i in zip(axes, index, strict=True))
            raise UsageError(f"cell {where}: {exc}") from None
        out.append((*index, *([0] * (3 - len(index))), spec))
    return out


def _definition(job_type: str, prompt: str, axes: list[Any], spec: Any) -> dict[str, Any]:
    names = ("x", "y", "z")
    return {"type": job_type, "prompt": prompt, "output": spec.config.output, "fps": spec.config.fps,
            "axes": {n: {"name": a.label, "values": list(a.values)} for n, a in zip(names, axes, strict=False)},
            "cells": []}


def _create(ws: Any, args: dict[str, Any], axes: list[Any], how: tuple[bool, str | None], flags: Any,
            images: Any) -> tuple[int, list[Any]]:
    from ourvidz_cli.cli.run import outcome_now

    base = {k: v for k, v in args.items() if v is not None and k not in ("job_type", "prompt")}
    if "seed" not in base and not any(a.name == "seed" for a in axes):
        base["seed"] = secrets.randbelow(2**32)  # one seed for every cell, as AUTOMATIC1111's grid keeps it
    cells = _cells(ws, args["job_type"], args["prompt"], base, axes)
    definition = _definition(args["job_type"], args["prompt"], axes, cells[0][3])
    images.store(ws.home)  # every cell resolved: now the picture may be copied in
    run, url = how
    key = "job_id"
    if run:  # one model loaded at a time: cells grouped by the model they name
        ordered = sorted(cells, key=lambda c: c[3].config.model.name)
        ids = {id(c): outcome_now(ws, c[3], flags, {}, False, True).job_id for c in ordered}
        job_ids: list[Any] = [ids[id(c)] for c in cells]
    elif url is not None:
        from ourvidz_cli.remote.grid_cells import push_cells

        job_ids, definition["queue"] = push_cells(url, ws.catalog, [c[3] for c in cells])
        key = "remote_id"
    else:
        job_ids = ws.ledger.queue.add([c[3] for c in cells])
    definition["cells"] = [{"x": c[0], "y": c[1], "z": c[2], key: j} for c, j in zip(cells, job_ids, strict=True)]
    return ws.ledger.grids.add(args["job_type"], args["prompt"], definition), job_ids


@app.command()
def grid(
    what: Annotated[str, typer.Argument(metavar="TYPE|show|render|list", help="A job type, or show/render/list.")],
    prompt: Annotated[str | None, typer.Argument(metavar="PROMPT|ID", help="The prompt, or a grid's id.")] = None,
    x: AxisOpt = None, y: AxisOpt = None, z: AxisOpt = None,
    run: Annotated[bool, typer.Option("--run", help="Run the cells now (else 'ourvidz queue run' does).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Allow more than 1,000 cells.")] = False,
    cell: Annotated[int, typer.Option("--cell-size", min=16, max=2048, help="A cell's side on the sheet.")] = 256,
    block: Annotated[bool, typer.Option("--block", help="An SDXL batch as a 2x3 block (else its 1st image).")] = False,
    seed: SeedOpt = None, steps: StepsOpt = None, count: CountOpt = None, guidance: GuidanceOpt = None,
    negative: NegOpt = None, image: ImageOpt = None, strength: StrengthOpt = None, device: DeviceOpt = None,
    vram_budget: BudgetOpt = None, queue: QueueOpt = None, as_json: JsonOpt = False,
) -> None:
    """Every combination of up to three axes as jobs, and a labelled contact sheet of them."""
    from ourvidz_cli.api.inputs import ImageOptions
    from ourvidz_cli.catalog.axes import MAX_CELLS, parse_axis
    from ourvidz_cli.cli.run import RunFlags
    from ourvidz_cli.library.grid_render import render

    ws, url = workspace(), queue_url(queue)
    if what in ("show", "render", "list"):
        _other(ws, what, prompt, (cell, block, url), as_json)
        return
    if prompt is None or x is None:
        raise UsageError("give TYPE PROMPT and at least --x AXIS=V1,V2 (e.g. --x seed=1-3 --y guidance=3,6,9)")
    axes = [parse_axis(a) for a in (x, y, z) if a]
    cells = 1
    for axis in axes:
        cells *= len(axis.values)
    if cells > MAX_CELLS and not yes:
        raise UsageError(f"{cells:,} cells is more than {MAX_CELLS:,}; narrow the axes or add --yes")
    flags = RunFlags(device=device, vram_budget=vram_budget)
    images = ImageOptions(image, strength)  # a strength axis needs the picture it starts from
    args = {"job_type": what, "prompt": prompt, "seed": seed, "steps": steps, "count": count, "guidance": guidance,
            "negative": negative, **images.overrides()}
    if run and url is not None:
        raise UsageError("--run renders the cells here; --queue sends them to the shared queue: give one")
    grid_id, job_ids = _create(ws, args, axes, (run, url), flags, images)
    sheets = render(ws.ledger, ws.home, grid_id, cell, block) if run else []
    _report(grid_id, job_ids, sheets, as_json)


def _report(grid_id: int, job_ids: list[int], sheets: list[str], as_json: bool) -> None:
    if as_json:
        emit_json({"grid_id": grid_id, "job_ids": job_ids, "sheets": sheets})
        return
    for path in sheets:
        print(path)
    if not sheets:
        err_console().print(f"grid {grid_id}: {len(job_ids)} cell job(s) queued; once they are done, 'ourvidz grid "
                            f"render {grid_id}' (with --queue for the shared queue's)")


def _other(ws: Any, what: str, grid_id: str | None, sheet: tuple[int, bool, str | None], as_json: bool) -> None:
    from ourvidz_cli.library.grid_render import render

    cell, block, url = sheet
    if what == "list":
        rows = [{"id": g["id"], "type": g["job_type"], "prompt": g["prompt"], "cells": len(g["definition"]["cells"]),
                 "sheets": g["sheets"]} for g in ws.ledger.grids.all()]
        if as_json:
            emit_json(rows)
        for r in rows if not as_json else []:
            print(f"{r['id']}\t{r['type']}\t{r['cells']} cells\t{r['prompt']}")
        return
    if grid_id is None or not grid_id.isdigit():
        raise UsageError(f"grid {what} takes a grid's id (see 'ourvidz grid list')")
    if what == "render":
        from ourvidz_cli.remote.grid_cells import fetcher

        fetch = fetcher(url, ws.home) if url is not None else None
        _report(int(grid_id), [], render(ws.ledger, ws.home, int(grid_id), cell, block, fetch), as_json)
        return
    found = ws.ledger.grids.get(int(grid_id))
    cells = found["definition"]["cells"]
    status = ws.ledger.jobs.statuses([c["job_id"] for c in cells if "job_id" in c])
    for c in cells:
        c["status"] = status.get(c["job_id"], "not in the ledger") if "job_id" in c else "on the shared queue"
    if as_json:
        emit_json(found)
        return
    axes = found["definition"]["axes"]
    print(f"grid {found['id']}: {found['job_type']} {found['prompt']!r}; " +
          "; ".join(f"{k} {a['name']}={','.join(map(str, a['values']))}" for k, a in axes.items()))
    done = sum(c["status"] == "completed" for c in found["definition"]["cells"])
    print(f"{done}/{len(found['definition']['cells'])} cells done; sheets: {', '.join(found['sheets']) or 'none yet'}")
