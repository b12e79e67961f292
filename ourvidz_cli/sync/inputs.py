"""A job's input files (library.inputs) pushed to the private `reference_images` bucket, as the real
project keeps its users' reference pictures: one object per content (`<owner>/<sha256>.<ext>`, so a
picture used by many jobs goes up once per sync run and an upload again is an overwrite with the same
bytes), and their paths by role for the job row's metadata."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from ourvidz_cli.sync.keys import check_key

BUCKET = "reference_images"


def _roles(given: Any) -> list[tuple[str, str]]:
    named = [("image", given.image), ("mask", given.mask), ("first_frame", given.first_frame),
             ("last_frame", given.last_frame), ("video", given.video)]
    return [(role, name) for role, name in named if name] + [("refs", name) for name in given.refs]


def upload_inputs(client: Any, owner: str, home: Path, config: Any, sent: set[str]) -> dict[str, Any]:
    """Upload what the job took in; {role: "reference_images/<path>"} ("refs": a list). `sent` holds the
    objects already up in this run. A SupabaseError propagates: the job's rows wait for the next sync."""
    out: dict[str, Any] = {}
    if config.inputs is None:
        return out
    for role, name in _roles(config.inputs):
        path = check_key(f"{owner}/{Path(name).name}")
        if path not in sent:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            client.upload(BUCKET, path, home / name, mime)
            sent.add(path)
        where = f"{BUCKET}/{path}"
        out[role] = [*out.get(role, []), where] if role == "refs" else where
    return out
