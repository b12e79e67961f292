"""`ourvidz assets ...`: generated files: list, show, export, delete, and a signed URL once synced."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ourvidz_cli.cli import complete
from ourvidz_cli.cli.options import AssetIdArg, JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console, when
from ourvidz_cli.cli.root import studio, sub_app, workspace
from ourvidz_cli.errors import UsageError

assets_app = sub_app("Generated files: list, show, export, delete.")

BucketOpt = Annotated[str | None, typer.Option("--bucket", help="Only this bucket.",
                                               autocompletion=complete.buckets)]
TypeOpt = Annotated[str | None, typer.Option("--type", help="Only outputs of this job type.",
                                             autocompletion=complete.job_types)]
StatusOpt = Annotated[str | None, typer.Option("--status", help="Only outputs of jobs in this status.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only since a date (2026-11-24) or an age (12h, 7d).")]
SearchOpt = Annotated[str | None, typer.Option(
    "--search", help='Plain text: prompts containing it. With FTS syntax ("a phrase", prefix*, AND/OR/NOT): '
    "prompts, enhanced and negative prompts, project and scene names, most relevant first.")]


def _filter(bucket: str | None, job_type: str | None, status: str | None, since: str | None,
            search: str | None, limit: int | None = None) -> Any:
    from ourvidz_cli.ledger import AssetFilter
    from ourvidz_cli.library.assets import parse_since

    return AssetFilter(bucket=bucket, job_type=job_type, status=status,
                       since=parse_since(since) if since else None, search=search, limit=limit)


def _library() -> Any:
    from ourvidz_cli.library.assets import Library

    ws = workspace()
    return Library(ws.ledger, ws.home)


def _size(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@assets_app.command("list")
def assets_list(
    bucket: BucketOpt = None, job_type: TypeOpt = None, status: StatusOpt = None, since: SinceOpt = None,
    search: SearchOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most N, newest first; 0 for all.")] = 100,
    grids: Annotated[bool, typer.Option("--grids", help="The grids' contact sheets instead ('ourvidz grid').")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List generated files, newest first."""
    if grids:
        _grid_sheets(as_json)
        return
    items = studio().assets.list(bucket=bucket, search=search, since=since, limit=limit or None, job_type=job_type,
                                 status=status)
    if as_json:
        emit_json(items)
        return
    from rich.table import Table

    table = Table()
    for col in ("id", "job", "type", "bucket", "kind", "size", "WxH", "created", "prompt"):
        table.add_column(col)
    for a in items:
        table.add_row(str(a["id"]), str(a["job_id"]), a["job_type"], a["bucket"], a["kind"], _size(a["bytes"]),
                      f"{a['width']}x{a['height']}", when(a["created_at"]) or "", a["prompt"][:40])
    out_console().print(table)
    err_console().print(f"{len(items)} asset(s)")


def _grid_sheets(as_json: bool) -> None:
    found = [{"grid_id": g["id"], "path": path, "kind": "video" if path.endswith(".mp4") else "image",
              "job_type": g["job_type"], "prompt": g["prompt"], "created_at": g["created_at"],
              "cells": len(g["definition"]["cells"])}
             for g in reversed(workspace().ledger.grids.all()) for path in g["sheets"]]
    if as_json:
        emit_json(found)
        return
    for row in found:
        print(f"{row['grid_id']}\t{row['kind']}\t{row['cells']} cells\t{row['path']}\t{row['prompt'][:40]}")
    err_console().print(f"{len(found)} sheet(s)")


@assets_app.command("show")
def assets_show(asset_id: AssetIdArg, as_json: JsonOpt = False) -> None:
    """An asset's prompt, enhanced prompt, seed, parameters, file, size and hash."""
    item = _library().show(asset_id)
    if as_json:
        emit_json(item)
        return
    from rich.table import Table

    table = Table(show_header=False, title=f"asset {asset_id}")
    for key in ("file", "exists", "job_id", "job_type", "job_status", "bucket", "mime", "bytes", "sha256", "prompt",
                "enhanced_prompt", "enhance_note", "negative_prompt", "seed", "model", "model_source", "parameters",
                "width", "height", "frames", "fps", "duration_s", "peak_mem_mb", "device"):
        if item.get(key) not in (None, ""):
            table.add_row(key, str(item[key]))
    if "input" in item:
        given = item["input"]
        table.add_row("input", f"{given['image']} (strength {given['strength']}, fit {given['fit']})"
                      + (f", mask {given['mask']}" + (" inverted" if given["invert_mask"] else "") if given["mask"]
                         else ""))
    if "pair" in item:
        pair = item["pair"]
        table.add_row("A/B pair", f"job {pair['job_id']} ({pair['is']}): " + ", ".join(pair["files"]))
    table.add_row("created", when(item["created_at"]) or "")
    out_console().print(table)


@assets_app.command("bundle")
def assets_bundle(
    asset_id: AssetIdArg,
    to: Annotated[Path, typer.Option("--to", help="The zip to write, e.g. fox.zip.")],
    as_json: JsonOpt = False,
) -> None:
    """Write a reproducible bundle of the asset's job: its outputs, full resolved config, model and LoRA
    identities with revisions and weights-index sha256, package versions, device and dtype. 'ourvidz
    rerun --bundle FILE' runs it again and says whether the pixels match."""
    from ourvidz_cli.library import bundle

    ws = workspace()
    job = ws.ledger.jobs.get(ws.ledger.assets.get(asset_id)["job_id"])
    if job["status"] != "completed":
        raise UsageError(f"job {job['id']} is {job['status']}; only a completed job's outputs can be bundled")
    dest = to.expanduser().resolve()
    info = bundle.write(dest, job, ws.ledger.assets.for_job(job["id"]), ws.home)
    if as_json:
        emit_json({"path": str(dest), "job_id": job["id"], "outputs": len(info["outputs"]),
                   "packages": info["packages"], "device": info["device"], "dtype": info["dtype"]})
    else:
        print(dest)
        err_console().print(f"job {job['id']}: {len(info['outputs'])} output(s), its config and models; "
                            f"'ourvidz rerun --bundle {dest.name}' reproduces it")


@assets_app.command("export")
def assets_export(
    to: Annotated[Path, typer.Option("--to", help="Folder to copy into (created if missing).")],
    bucket: BucketOpt = None, job_type: TypeOpt = None, status: StatusOpt = None, since: SinceOpt = None,
    search: SearchOpt = None, as_json: JsonOpt = False,
) -> None:
    """Copy matching assets into a folder, by bucket, with a manifest.json describing each."""
    from ourvidz_cli.paths import check_folder

    check_folder(to.expanduser().resolve(), "--to")
    result = _library().export(_filter(bucket, job_type, status, since, search), to)
    if as_json:
        emit_json(result)
        return
    print(result["manifest"])
    err_console().print(f"exported {result['exported']} asset(s), {_size(result['bytes'])}, to {result['to']}"
                        + (f"; {len(result['missing'])} file(s) were missing" if result["missing"] else ""))


@assets_app.command("delete")
def assets_delete(
    asset_id: AssetIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete an asset's file and its ledger row together."""
    lib = _library()
    item = lib.get(asset_id)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"deleting asset {asset_id} needs confirmation; add --yes when not at a terminal")
        if not typer.confirm(f"delete {item['file']} (asset {asset_id} of job {item['job_id']})?", err=True):
            raise UsageError("not deleted")
    result = lib.delete(asset_id)
    if as_json:
        emit_json(result)
    else:
        print(f"deleted asset {asset_id}: {result['file']}")


@assets_app.command("url")
def assets_url(
    asset_id: AssetIdArg,
    expires: Annotated[int, typer.Option("--expires", min=1, help="Seconds the link stays valid.")] = 3600,
    as_json: JsonOpt = False,
) -> None:
    """A signed URL for a synced asset."""
    from ourvidz_cli.cli.sync import syncer

    url = syncer().url(asset_id, expires)
    if as_json:
        emit_json({"asset_id": asset_id, "url": url, "expires_s": expires})
    else:
        print(url)
