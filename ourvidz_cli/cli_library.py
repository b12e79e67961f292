"""Library commands: assets, rerun, gallery, stats, doctor and job logs. Parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ourvidz_cli.cli_common import (
    DeviceOpt,
    JsonOpt,
    SeedOpt,
    app,
    assets_app,
    emit_json,
    err_console,
    jobs_app,
    out_console,
    studio,
    when,
)
from ourvidz_cli.errors import NotFound, UsageError

BucketOpt = Annotated[str | None, typer.Option("--bucket", help="Only this bucket.")]
TypeOpt = Annotated[str | None, typer.Option("--type", help="Only outputs of this job type.")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="Only outputs of jobs in this status.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only since a date (2026-11-24) or an age (12h, 7d).")]
SearchOpt = Annotated[str | None, typer.Option("--search", help="Only prompts containing this text.")]


def _filter(bucket: str | None, job_type: str | None, status: str | None, since: str | None,
            search: str | None, limit: int | None = None) -> Any:
    from ourvidz_cli.library import AssetFilter, parse_since

    return AssetFilter(bucket=bucket, job_type=job_type, status=status,
                       since=parse_since(since) if since else None, search=search, limit=limit)


def _library() -> Any:
    from ourvidz_cli.library import Library

    s = studio()
    return Library(s.ledger, s.home)


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
    as_json: JsonOpt = False,
) -> None:
    """List generated files, newest first."""
    items = _library().list(_filter(bucket, job_type, status, since, search, limit or None))
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


@assets_app.command("show")
def assets_show(asset_id: Annotated[int, typer.Argument(help="Asset id.")], as_json: JsonOpt = False) -> None:
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
    table.add_row("created", when(item["created_at"]) or "")
    out_console().print(table)


@assets_app.command("export")
def assets_export(
    to: Annotated[Path, typer.Option("--to", help="Folder to copy into (created if missing).")],
    bucket: BucketOpt = None, job_type: TypeOpt = None, status: StatusOpt = None, since: SinceOpt = None,
    search: SearchOpt = None, as_json: JsonOpt = False,
) -> None:
    """Copy matching assets into a folder, by bucket, with a manifest.json describing each."""
    result = _library().export(_filter(bucket, job_type, status, since, search), to)
    if as_json:
        emit_json(result)
        return
    print(result["manifest"])
    err_console().print(f"exported {result['exported']} asset(s), {_size(result['bytes'])}, to {result['to']}"
                        + (f"; {len(result['missing'])} file(s) were missing" if result["missing"] else ""))


@assets_app.command("delete")
def assets_delete(
    asset_id: Annotated[int, typer.Argument(help="Asset id.")],
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


@app.command()
def rerun(
    job_id: Annotated[int, typer.Argument(help="The job to reproduce.")],
    seed: SeedOpt = None,
    queue: Annotated[bool, typer.Option("--queue", help="Queue it instead of running it now.")] = False,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a job again from its stored settings (same seed unless --seed): same model files, same device,
    same pixels."""
    s = studio()
    spec = s.rerun_spec(job_id, seed)
    if queue:
        ids = s.ledger.add([spec])
        if as_json:
            emit_json({"job_ids": ids, "rerun_of": job_id})
        else:
            print(ids[0])
        return
    from ourvidz_cli.progress import ConsoleReporter
    from ourvidz_cli.runner import Runner, sigterm_as_interrupt
    from ourvidz_cli.worker import Worker

    runner = Runner(s.ledger, s.home, Worker(), ConsoleReporter(), device=device)
    with sigterm_as_interrupt():
        outcome = runner.generate_now(spec)
    if as_json:
        emit_json({**outcome.as_dict(), "rerun_of": job_id})
    else:
        print("\n".join(outcome.outputs))
    if outcome.status != "completed":
        if not as_json:
            err_console().print(f"error: job {outcome.job_id} {outcome.status}: {outcome.error}")
        raise typer.Exit(1)


@app.command()
def gallery(
    out: Annotated[Path | None, typer.Option("--out", help="Folder for index.html (default: <home>/gallery).")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open it in the default browser.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write one static HTML page of every output, grouped by bucket, newest first."""
    from ourvidz_cli import gallery as gallery_mod
    from ourvidz_cli.paths import gallery_dir

    s = studio()
    result = gallery_mod.build(s.ledger, s.home, (out or gallery_dir(s.home)).resolve())
    if as_json:
        emit_json(result)
    else:
        print(result["path"])
        err_console().print(f"{result['assets']} assets and {result['failed_jobs']} failed jobs "
                            f"in {result['buckets']} bucket(s)")
    if open_:
        import webbrowser

        if not webbrowser.open(Path(result["path"]).as_uri()):
            err_console().print(f"no browser found; open {result['path']} yourself")


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


@app.command()
def stats(since: SinceOpt = None, as_json: JsonOpt = False) -> None:
    """Per job type: jobs, success rate, median and p95 seconds, mean peak memory, enhancement time."""
    from ourvidz_cli.library import parse_since
    from ourvidz_cli.stats import job_stats

    result = job_stats(studio().ledger, parse_since(since) if since else None)
    if as_json:
        emit_json(result)
        return
    from rich.table import Table

    table = Table(title="jobs by type")
    for col in ("type", "jobs", "done", "failed", "success", "median s", "p95 s", "peak MiB", "enhance s"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for r in [*result["types"], result["all"]]:
        rate = "–" if r["success_rate"] is None else f"{r['success_rate'] * 100:.0f}%"
        table.add_row(r["type"], str(r["jobs"]), str(r["completed"]), str(r["failed"]), rate,
                      _fmt(r["median_s"], ".2f"), _fmt(r["p95_s"], ".2f"), _fmt(r["mean_peak_mem_mb"], ".0f"),
                      _fmt(r["mean_enhance_s"], ".2f"), end_section=r["type"] == result["types"][-1]["type"]
                      if result["types"] else False)
    out_console().print(table)


@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check torch, the GPU, ffmpeg, the catalog, every model, disk space and the ledger."""
    from ourvidz_cli import doctor as doctor_mod
    from ourvidz_cli.catalog import load_catalog
    from ourvidz_cli.paths import ledger_path

    s = studio()
    checks = doctor_mod.run_checks(s.home, ledger_path(s.home), lambda: load_catalog(s.catalog_path()))
    failed = [c for c in checks if c.status == doctor_mod.FAIL]
    if as_json:
        emit_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        out = out_console()
        marks = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}
        for c in checks:
            out.print(f"{marks[c.status]} {c.name}: {c.detail}" + (f"\n     fix: {c.fix}" if c.fix else ""),
                      highlight=False, markup=True)
    if failed:
        if not as_json:
            err_console().print(f"{len(failed)} problem(s) stop jobs from running: "
                                + ", ".join(c.name for c in failed))
        raise typer.Exit(1)


@jobs_app.command("log")
def jobs_log(job_id: Annotated[int, typer.Argument(help="Job id.")], as_json: JsonOpt = False) -> None:
    """Show a job's log: attempts, timings, warnings, and the traceback of a failure."""
    from ourvidz_cli.paths import logs_dir

    s = studio()
    s.ledger.get(job_id)  # an unknown id is a usage error, not a missing file
    path = logs_dir(s.home) / f"{job_id}.log"
    if not path.is_file():
        raise NotFound(f"job {job_id} has no log yet (it has not started); 'ourvidz jobs show {job_id}' has its state")
    text = path.read_text(encoding="utf-8", errors="replace")
    if as_json:
        emit_json({"job_id": job_id, "path": str(path), "log": text})
    else:
        sys.stdout.write(text)



