"""Finding, showing, exporting and deleting generated assets, joined with the jobs that made them."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import DiskFull, UsageError
from ourvidz_cli.ledger import AssetFilter, Ledger

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


class Library:
    def __init__(self, ledger: Ledger, home: Path) -> None:
        self.ledger, self.home = ledger, home

    def _row(self, row: Any) -> dict[str, Any]:
        item = dict(row)
        item["file"] = str(self.home / item["path"])
        return item

    def list(self, flt: AssetFilter) -> list[dict[str, Any]]:
        return [self._row(r) for r in self.ledger.assets.list(flt)]

    def get(self, asset_id: int) -> dict[str, Any]:
        return self._row(self.ledger.assets.get(asset_id))

    def show(self, asset_id: int) -> dict[str, Any]:
        """The asset with everything needed to understand or reproduce it."""
        item = self.get(asset_id)
        job = self.ledger.jobs.get(item["job_id"])
        cfg = job["config"]
        item["parameters"] = {k: getattr(cfg, k) for k in
                              ("steps", "width", "height", "frames", "fps", "count", "guidance", "output")}
        item["model"] = cfg.model.name
        item["model_source"] = cfg.model.source
        item["enhance_note"] = job["enhance_note"]
        item["exists"] = Path(item["file"]).is_file()
        if cfg.inputs is not None:  # what the job started from, beside what it made
            given, at = cfg.inputs, (lambda name: str(self.home / name) if name else None)
            item["input"] = {"image": at(given.image), "strength": given.strength, "fit": given.fit,
                             "mask": at(given.mask), "invert_mask": given.invert_mask}
            if given.frames_in or given.video:
                item["input"].update(first_frame=at(given.first_frame), last_frame=at(given.last_frame),
                                     refs=[at(r) for r in given.refs], video=at(given.video))
        partner = self.ledger.jobs.partner(job)
        if partner is not None:  # an A/B pair (--ab): the same seed and settings, enhanced and raw prompt
            item["pair"] = {"job_id": partner, "is": "the raw prompt" if not job.get("pair_of") else "enhanced",
                            "files": [str(self.home / a["path"]) for a in self.ledger.assets.for_job(partner)]}
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
            self.ledger.assets.delete(asset_id)
        except DiskFull:
            if not had_file:
                raise
            # The ledger needs a little room to record the delete: the file's own space gives it that.
            aside.unlink(missing_ok=True)
            self.ledger.assets.delete(asset_id)
        except BaseException:
            if had_file:
                os.replace(aside, src)
            raise
        if had_file:
            aside.unlink(missing_ok=True)
        return {"id": asset_id, "file": item["file"], "deleted": True, "file_was_missing": not had_file}
