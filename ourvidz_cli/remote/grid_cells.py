"""A grid's cells sent to the shared queue (`ourvidz grid ... --queue URL`): each cell one item, and, for
`grid render`, each finished cell's outputs fetched back from Supabase Storage by the paths its result
names (the same `bucket/owner/uuid_N.ext` the job-callback carries)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError

Fetch = Callable[[str], list[Path] | None]


def push_cells(url: str, catalog: Any, specs: list[Any]) -> tuple[list[str], str]:
    """The items' ids, and the queue as it may be shown (no password)."""
    from ourvidz_cli.remote.redis_queue import open_queue
    from ourvidz_cli.remote.worker_queue import push_specs, pushing_user

    redis = open_queue(url)
    return push_specs(redis, catalog, specs, pushing_user()), redis.display


def fetcher(url: str, home: Path) -> Fetch:
    """What `grid render` reads a remote cell's outputs with: None while the cell is not done."""
    from ourvidz_cli.remote.redis_queue import open_queue
    from ourvidz_cli.sync.client import SupabaseConfig, client_from_env

    redis = open_queue(url)
    client = client_from_env(SupabaseConfig.from_env())
    cache = home / "grids" / "cells"

    def fetch(remote_id: str) -> list[Path] | None:
        raw = redis.done_body(remote_id)
        if raw is None:
            return None
        body = json.loads(raw)
        if body.get("status") != "completed":
            raise OurvidzError(f"cell job {remote_id} {body.get('status')}: {body.get('error_message')}")
        out = []
        for i, where in enumerate(body.get("assets") or []):
            bucket, _, path = str(where).partition("/")
            local = cache / f"{remote_id}_{i}{Path(path).suffix}"
            if not local.is_file():
                data = client.request("GET", f"/storage/v1/object/{bucket}/{path}", f"downloading {where}").content
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
            out.append(local)
        return out

    return fetch
