"""Library reports: `ourvidz gallery`, `ourvidz stats` and `ourvidz doctor`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ourvidz_cli.cli.assets import SinceOpt
from ourvidz_cli.cli.options import JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console
from ourvidz_cli.cli.root import app, workspace


@app.command()
def gallery(
    out: Annotated[Path | None, typer.Option("--out", help="Folder for index.html (default: <home>/gallery).")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open it in the default browser.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write one static HTML page of every output, grouped by bucket, newest first."""
    from ourvidz_cli.library import gallery as gallery_mod
    from ourvidz_cli.paths import check_folder, gallery_dir

    ws = workspace()
    folder = (out or gallery_dir(ws.home)).expanduser().resolve()
    check_folder(folder, "--out")
    result = gallery_mod.build(ws.ledger, ws.home, folder)
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
    from ourvidz_cli.library.assets import parse_since
    from ourvidz_cli.library.stats import job_stats

    result = job_stats(workspace().ledger, parse_since(since) if since else None)
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
    from ourvidz_cli.catalog.load import load_catalog
    from ourvidz_cli.paths import ledger_path

    ws = workspace()
    checks = doctor_mod.run_checks(ws.home, ledger_path(ws.home), lambda: load_catalog(ws.catalog_path()))
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
    if not as_json:
        err_console().print("next: 'ourvidz selftest' runs every model family on this device (under a minute)")
