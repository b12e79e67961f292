"""`ourvidz sync ...`: push finished jobs to Supabase, show what is pending, create the buckets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ourvidz_cli.cli.options import JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console
from ourvidz_cli.cli.root import sub_app, workspace

sync_app = sub_app("Push outputs and job records to Supabase (SUPABASE_URL, SUPABASE_SERVICE_KEY).",
                   invoke_without_command=True)


def client_for(config: Any) -> Any:
    """A Supabase client with the environment's timeout, retries and backoff."""
    from ourvidz_cli.sync.client import client_from_env

    return client_from_env(config)


def syncer(online: bool = True) -> Any:
    """A Syncer for this data home; online needs the environment's Supabase settings."""
    from ourvidz_cli.sync.client import SupabaseConfig
    from ourvidz_cli.sync.syncer import Syncer

    ws = workspace()
    config = SupabaseConfig.from_env() if online else None
    client = client_for(config) if config is not None else None
    owner = config.owner if config else SupabaseConfig.owner_from_env()  # a dry run shows the real paths
    return Syncer(ws.ledger, ws.home, ws.catalog, client, owner,
                  say=lambda text: err_console().print(text, style="dim"))


@sync_app.callback()
def sync(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; send nothing.")] = False,
    job: Annotated[int | None, typer.Option("--job", help="Only this job.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Push every finished job not yet synced: files to their buckets, then the job and asset rows."""
    if ctx.invoked_subcommand:
        return
    if job is not None:
        workspace().ledger.jobs.get(job)  # an unknown id is a usage error
    result = syncer(online=not dry_run).run(job_id=job, dry_run=dry_run)
    if as_json:
        emit_json(result)
    elif dry_run:
        for j in result["jobs"]:
            for a in j["assets"]:
                print(f"job {j['job_id']}: {a['remote']} ({a['bytes']} bytes)"
                      + (f" SKIP: {a['refused']}" if a["refused"] else ""))
        err_console().print(f"{len(result['jobs'])} job(s) to sync; nothing was sent (--dry-run)")
    else:
        err_console().print(f"uploaded {result['uploaded']}, skipped {result['skipped']}, failed {result['failed']}"
                            f" across {len(result['jobs'])} job(s)")
    if result["failed"]:
        raise typer.Exit(1)


@sync_app.command("status")
def sync_status(as_json: JsonOpt = False) -> None:
    """How many outputs are synced, pending, failed or skipped (and why)."""
    result = syncer(online=False).status()
    if as_json:
        emit_json(result)
        return
    a = result["assets"]
    out = out_console()
    out.print(f"assets: {a['synced']} synced, {a['pending']} pending, {a['failed']} failed, {a['skipped']} skipped; "
              f"jobs: {result['jobs_synced']} synced, {result['jobs_pending']} pending", highlight=False)
    for p in result["problems"]:
        out.print(f"  asset {p['asset_id']} (job {p['job_id']}) {p['status']}: {p['error']}", highlight=False)


@sync_app.command("setup")
def sync_setup(as_json: JsonOpt = False) -> None:
    """Create the catalog's buckets that the project lacks, with their size limits and MIME types."""
    result = syncer().setup()
    if as_json:
        emit_json({"buckets": result})
    else:
        for b in result:
            state = "not created" if b["problem"] else "created" if b["created"] else "exists"
            print(f"{b['bucket']}: {state}")
            for note in (b.get("warning"), b["problem"]):
                if note:
                    err_console().print(f"  {b['bucket']}: {note}")
    if any(b["problem"] for b in result):  # a bucket left unusable: its outputs cannot sync
        raise typer.Exit(1)
