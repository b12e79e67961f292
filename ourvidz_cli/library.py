"""The library: finding, exporting and deleting generated assets, joined with the jobs that made them."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import NotFound, UsageError
from ourvidz_cli.ledger import STATUSES, Ledger

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """An ISO date or time (2026-11-24, 2026-11-24T08:00) or an age (90m, 12h, 7d) as a timestamp."""
    raw = text.strip()
    m = RELATIVE.match(raw)
    if m:
        return (now or time.time()) - int(m.group(1)) * UNIT_S[m.group(2)]
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise UsageError(f"--since '{text}' is neither a date (2026-11-24) nor an age (12h, 7d)") from None


@dataclass(frozen=True)
class AssetFilter:
    bucket: str | None = None
    job_type: str | None = None
    status: str | None = None
    since: float | None = None
    search: str | None = None
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if self.bucket:
            clauses.append("a.bucket = ?")
            args.append(self.bucket)
        if self.job_type:
            clauses.append("j.type = ?")
            args.append(self.job_type)
        if self.status:
            if self.status not in STATUSES:
                raise UsageError(f"--status '{self.status}' is not one of {', '.join(STATUSES)}")
            clauses.append("j.status = ?")
            args.append(self.status)
        if self.since is not None:
            clauses.append("a.created_at >= ?")
            args.append(self.since)
        if self.search:
            # instr, not LIKE: the user's % and _ are literal text, and case folds for ASCII via lower().
            clauses.append("(instr(lower(j.prompt), lower(?)) > 0 OR instr(lower(coalesce(j.enhanced_prompt, '')), "
                           "lower(?)) > 0)")
            args += [self.search, self.search]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


ASSET_COLUMNS = """
    a.id, a.job_id, a.idx, a.bucket, a.path, a.kind, a.mime, a.bytes, a.sha256, a.width, a.height, a.frames,
    a.fps, a.created_at, j.type AS job_type, j.status AS job_status, j.prompt, j.enhanced_prompt,
    j.negative_prompt, j.seed, j.duration_s, j.load_s, j.generate_s, j.enhance_s, j.peak_mem_mb, j.device
"""


class Library:
    def __init__(self, ledger: Ledger, home: Path) -> None:
        self.ledger, self.home = ledger, home

    def _row(self, row: Any) -> dict[str, Any]:
        item = dict(row)
        item["file"] = str(self.home / item["path"])
        return item

    def list(self, flt: AssetFilter) -> list[dict[str, Any]]:
        where, args = flt.where()
        sql = f"SELECT {ASSET_COLUMNS} FROM assets a JOIN jobs j ON j.id = a.job_id{where} " \
              "ORDER BY a.created_at DESC, a.job_id DESC, a.idx"
        if flt.limit:
            sql += f" LIMIT {int(flt.limit)}"
        return [self._row(r) for r in self.ledger.conn.execute(sql, args)]

    def get(self, asset_id: int) -> dict[str, Any]:
        row = self.ledger.conn.execute(
            f"SELECT {ASSET_COLUMNS} FROM assets a JOIN jobs j ON j.id = a.job_id WHERE a.id = ?", [asset_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no asset {asset_id} in {self.ledger.path}; 'ourvidz assets list' shows them")
        return self._row(row)

    def show(self, asset_id: int) -> dict[str, Any]:
        """The asset with everything needed to understand or reproduce it."""
        item = self.get(asset_id)
        job = self.ledger.get(item["job_id"])
        item["parameters"] = {k: job["config"][k] for k in
                              ("steps", "width", "height", "frames", "fps", "count", "guidance", "output")}
        item["model"] = job["config"]["model"]["name"]
        item["model_source"] = job["config"]["model"]["source"]
        item["enhance_note"] = job["enhance_note"]
        item["exists"] = Path(item["file"]).is_file()
        return item

    def export(self, flt: AssetFilter, dest: Path) -> dict[str, Any]:
        """Copy matching assets under DEST/<bucket>/ and write DEST/manifest.json describing each."""
        items = self.list(flt)
        dest.mkdir(parents=True, exist_ok=True)
        exported, missing = [], []
        for item in items:
            src = Path(item["file"])
            if not src.is_file():
                missing.append({"id": item["id"], "file": item["file"]})
                continue
            rel = Path(item["bucket"]) / src.name
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            tmp = dest / rel.parent / f".partial-{src.name}"
            shutil.copy2(src, tmp)
            os.replace(tmp, dest / rel)
            exported.append({
                "asset_id": item["id"], "job_id": item["job_id"], "file": rel.as_posix(), "bucket": item["bucket"],
                "job_type": item["job_type"], "mime": item["mime"], "bytes": item["bytes"],
                "sha256": item["sha256"], "prompt": item["prompt"], "enhanced_prompt": item["enhanced_prompt"],
                "negative_prompt": item["negative_prompt"], "seed": item["seed"], "width": item["width"],
                "height": item["height"], "frames": item["frames"], "created_at": item["created_at"],
            })
        manifest = {"exported_at": time.time(), "source_home": str(self.home), "assets": exported,
                    "missing": missing}
        tmp = dest / ".partial-manifest.json"
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, dest / "manifest.json")
        return {"to": str(dest), "exported": len(exported), "missing": missing,
                "bytes": sum(e["bytes"] for e in exported), "manifest": str(dest / "manifest.json")}

    def delete(self, asset_id: int) -> dict[str, Any]:
        """Remove the file and its row together: the file is moved aside, the row deleted, then the file
        unlinked; if the row cannot be deleted the file is put back."""
        item = self.get(asset_id)
        src = Path(item["file"])
        aside = src.with_name(f".partial-deleting-{src.name}")
        had_file = src.is_file()
        if had_file:
            os.replace(src, aside)
        try:
            with self.ledger.write() as conn:
                conn.execute("DELETE FROM sync_assets WHERE asset_id = ?", [asset_id])
                conn.execute("DELETE FROM assets WHERE id = ?", [asset_id])
        except BaseException:
            if had_file:
                os.replace(aside, src)
            raise
        if had_file:
            aside.unlink(missing_ok=True)
        return {"id": asset_id, "file": item["file"], "deleted": True, "file_was_missing": not had_file}
