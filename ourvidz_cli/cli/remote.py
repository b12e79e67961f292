"""The remote queue from the commands' side: opening it from --queue / OURVIDZ_QUEUE, and the
`queue add|cancel|status` variants that act on it instead of the local ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ourvidz_cli.cli.output import emit_json, err_console, out_console, table, when
from ourvidz_cli.errors import UsageError

QueueOpt = Annotated[str | None, typer.Option(
    "--queue", help="A shared queue: redis://, rediss:// or an Upstash REST https:// URL ('upstash' reads "
    "UPSTASH_REDIS_REST_URL/TOKEN); env OURVIDZ_QUEUE. Default: this machine's ledger.")]


def add(ws: Any, url: str, job_type: str | None, prompt: str | None, file: Path | None,
        opts: dict[str, Any], as_json: bool) -> None:
    """Validate every job against this machine's catalog, then push them all."""
    from ourvidz_cli.remote.redis_queue import open_queue
    from ourvidz_cli.remote.worker_queue import push_specs, pushing_user

    specs = ws.specs_from_file(file, opts) if file is not None else [ws.resolve(job_type, prompt, opts)]
    redis = open_queue(url)
    ids = push_specs(redis, ws.catalog, specs, pushing_user())
    if as_json:
        emit_json({"job_ids": ids, "queue": redis.display})
        return
    print("\n".join(ids))
    err_console().print(f"queued {len(ids)} job(s) on {redis.display}; 'ourvidz worker --queue ...' runs them")


def cancel(url: str, job_id: str, as_json: bool) -> None:
    from ourvidz_cli.remote.redis_queue import open_queue

    result = open_queue(url).cancel(job_id)
    if as_json:
        emit_json({"job_id": job_id, "result": result})
    else:
        print(f"job {job_id}: {result}")


def status(url: str, as_json: bool) -> None:
    from ourvidz_cli.remote.redis_queue import open_queue

    report = open_queue(url).status()
    if as_json:
        emit_json(report)
        return
    depth = ", ".join(f"{q}: {n}" for q, n in report["depth"].items())
    out_console().print(f"{report['queue']}: {depth}")
    table(("worker", "alive", "host", "since", "in flight"),
          [[w["worker"], "yes" if w["alive"] else "DEAD", w.get("host", ""), when(w.get("since")) or "",
            " ".join(str(j) for j in w["in_flight"])] for w in report["workers"]], title="workers")
    dead = report["dead_letter"]
    table(("job", "queue", "reason"), [[str(e.get("id")), str(e.get("queue")), str(e.get("reason"))[:100]]
                                      for e in dead["items"]], title=f"dead letters ({dead['count']})")


def local_id(text: str) -> int:
    if not text.isdigit():
        raise UsageError(f"'{text}' is not a job id of this machine's ledger (a number); "
                         "give --queue URL for a job on a shared queue")
    return int(text)
