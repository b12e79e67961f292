"""Pushing finished jobs to Supabase: each output to its bucket, then the job row and one images or
videos row in the seed's shape. Idempotent (upserts, and the ledger remembers what is done) and
resumable (a large video's upload URL is kept, so a killed sync continues where the server stopped).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.schema import Catalog
from ourvidz_cli.errors import OurvidzError, UsageError
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.ledger.sync_state import FAILED, PENDING, SKIPPED, SYNCED
from ourvidz_cli.sync.client import RESUMABLE_ABOVE, TUS_CHUNK, Client, SupabaseError
from ourvidz_cli.sync.keys import check_bucket, check_key

# Storage codes that will not change on a retry: the file is reported and never sent again.
PERMANENT = {"413": "larger than the bucket allows", "415": "a type the bucket refuses"}
ROW_NAMESPACE = uuid.UUID("6f1c2a4e-8b0d-4c55-9d2e-0a7f3b1c9e10")


def remote_path(owner: str, job: dict[str, Any], asset: dict[str, Any]) -> str:
    ext = Path(asset["path"]).suffix.lstrip(".")
    check_bucket(asset["bucket"])
    return check_key(f"{owner}/{job['uuid']}_{asset['idx']}.{ext}")


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


class Syncer:
    def __init__(self, ledger: Ledger, home: Path, catalog: Catalog, client: Client | None, owner: str,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.ledger, self.home, self.catalog, self.client, self.owner, self.say = (
            ledger, home, catalog, client, owner, say)
        self.inputs_sent: set[str] = set()  # reference_images objects uploaded in this run

    # -- what is left ------------------------------------------------------------------------------

    def pending_jobs(self, job_id: int | None = None) -> list[dict[str, Any]]:
        return [self.ledger.jobs.get(i) for i in self.ledger.sync.pending_job_ids(job_id)]

    def status(self) -> dict[str, Any]:
        counts = self.ledger.sync.counts()
        return {"assets": counts["assets"], "jobs_synced": counts["jobs_synced"],
                "jobs_pending": len(self.ledger.sync.pending_job_ids()), "problems": counts["problems"]}

    # -- doing it ----------------------------------------------------------------------------------

    def _record_asset(self, asset: dict[str, Any], job_id: int, path: str, status: str, error: str | None,
                      tus_url: str | None = None) -> None:
        self.ledger.sync.record_asset(asset["id"], job_id, path, status, error, tus_url)

    def _state(self, asset_id: int) -> dict[str, Any] | None:
        return self.ledger.sync.asset(asset_id)

    def _local_refusal(self, asset: dict[str, Any]) -> str | None:
        bucket = self.catalog.buckets.get(asset["bucket"])
        if bucket is None:
            return None
        if bucket.max_mb is not None and asset["bytes"] > bucket.max_mb * 2**20:
            return f"{asset['bytes']} bytes is over bucket {bucket.name}'s {bucket.max_mb:g} MB limit"
        if not bucket.accepts(asset["mime"]):
            return f"bucket {bucket.name} does not accept {asset['mime']}"
        return None

    def _upload(self, asset: dict[str, Any], job_id: int, path: str) -> None:
        assert self.client is not None
        file = self.home / asset["path"]
        if asset["bytes"] <= RESUMABLE_ABOVE:
            self.client.upload(asset["bucket"], path, file, asset["mime"])
            return
        state = self._state(asset["id"]) or {}
        location, offset = state.get("tus_url"), None
        if location:
            offset = self.client.tus_offset(location)
            if offset is not None:
                self.say(f"  resuming {asset['bucket']}/{path} at {offset} of {asset['bytes']} bytes")
        if offset is None:
            location, offset = self._start_tus(asset, job_id, path), 0
        conflicts, restarted = 0, False
        with open(file, "rb") as fh:
            while offset < asset["bytes"]:
                fh.seek(offset)
                try:
                    offset = self.client.tus_patch(location, offset, fh.read(TUS_CHUNK))
                except SupabaseError as exc:
                    if exc.code in ("404", "410") and not restarted:  # the upload expired on the server
                        self.say(f"  the server forgot the upload of {asset['bucket']}/{path} ({exc.code}); "
                                 "starting it again")
                        location, offset, restarted = self._start_tus(asset, job_id, path), 0, True
                        continue
                    # 409: the server's offset is not ours (a chunk whose reply was lost did arrive, or
                    # another upload holds the lock): ask where it stands and go on from there.
                    conflicts += 1
                    if exc.code != "409" or conflicts > 5:
                        raise
                    known = self.client.tus_offset(location)
                    if known is None:
                        raise
                    offset = known
                    continue
                self.say(f"  {asset['bucket']}/{path}: {offset}/{asset['bytes']} bytes")

    def _start_tus(self, asset: dict[str, Any], job_id: int, path: str) -> str:
        assert self.client is not None
        location = self.client.tus_create(asset["bucket"], path, asset["bytes"], asset["mime"])
        # Remember the upload before sending a byte: a killed sync resumes it instead of restarting.
        self._record_asset(asset, job_id, path, PENDING, None, tus_url=location)
        return location

    def _rows(self, job: dict[str, Any], done: list[tuple[dict[str, Any], str]]) -> None:
        from ourvidz_cli.sync.inputs import upload_inputs

        assert self.client is not None
        cfg = job["config"]
        inputs = upload_inputs(self.client, self.owner, self.home, cfg, self.inputs_sent)
        job_row = {
            "id": job["uuid"], "user_id": self.owner, "job_type": job["type"], "status": "completed",
            "prompt": job["prompt"], "created_at": _iso(job["created_at"]), "completed_at": _iso(job["finished_at"]),
            "metadata": {"prompt": job["prompt"], "bucket": cfg.bucket, "enhanced_prompt": job["enhanced_prompt"],
                         "negative_prompt": job["negative_prompt"], "seed": job["seed"], "steps": cfg.steps,
                         "width": cfg.width, "height": cfg.height, "frames": cfg.frames,
                         "model": cfg.model.name, "source": "ourvidz", "local_job_id": job["id"]},
        }
        if inputs:  # where the job's pictures went (private bucket), and how they were used
            job_row["metadata"] |= {"reference_images": inputs, "denoise_strength": cfg.inputs.strength,
                                    "fit": cfg.inputs.fit}
        self.client.upsert("jobs", [job_row])
        paths = [p for _, p in done]
        kind = "videos" if cfg.is_video else "images"
        row_id = str(uuid.uuid5(ROW_NAMESPACE, f"{job['uuid']}/{kind}"))
        meta = {"prompt": job["prompt"], "bucket": cfg.bucket, "job_type": job["type"], "seed": job["seed"]}
        if kind == "images":
            row = {"id": row_id, "user_id": self.owner, "job_id": job["uuid"], "prompt": job["prompt"],
                   "image_urls": paths, "image_url": paths[0] if paths else None, "status": "completed",
                   "metadata": meta, "created_at": _iso(job["finished_at"])}
        else:
            row = {"id": row_id, "user_id": self.owner, "job_id": job["uuid"], "video_url": paths[0] if paths else None,
                   "status": "completed", "duration": (cfg.frames or 1) / cfg.fps, "format": "mp4",
                   "resolution": f"{cfg.width}x{cfg.height}", "metadata": meta,
                   "created_at": _iso(job["finished_at"])}
        self.client.upsert(kind, [row])
        self.ledger.sync.job_synced(job["id"], job["uuid"])

    def _sync_asset(self, job: dict[str, Any], asset: dict[str, Any], path: str, result: dict[str, Any]) -> bool:
        """One asset: True when it is up (now or before); refusals and failures go into `result`."""
        state = self._state(asset["id"])
        if state and state["status"] == SYNCED:
            return True
        if state and state["status"] == SKIPPED:
            return False
        refusal = self._local_refusal(asset)
        if refusal:
            self._record_asset(asset, job["id"], path, SKIPPED, refusal)
            result["skipped"].append({"asset_id": asset["id"], "reason": refusal})
            self.say(f"  skipped {asset['path']}: {refusal}")
            return False
        try:
            self._upload(asset, job["id"], path)
        except SupabaseError as exc:
            if exc.code in PERMANENT:
                reason = f"{PERMANENT[exc.code]} ({exc})"
                self._record_asset(asset, job["id"], path, SKIPPED, reason)
                result["skipped"].append({"asset_id": asset["id"], "reason": reason})
                return False
            self._record_asset(asset, job["id"], path, FAILED, str(exc),
                               tus_url=(self._state(asset["id"]) or {}).get("tus_url"))
            result["failed"].append({"asset_id": asset["id"], "error": str(exc)})
            return False
        except OurvidzError as exc:
            self._record_asset(asset, job["id"], path, FAILED, str(exc),
                               tus_url=(self._state(asset["id"]) or {}).get("tus_url"))
            raise
        self._record_asset(asset, job["id"], path, SYNCED, None)
        result["uploaded"].append({"asset_id": asset["id"], "remote": f"{asset['bucket']}/{path}",
                                   "bytes": asset["bytes"]})
        return True

    def sync_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Upload what is not yet up, then write the rows; returns what happened to each asset."""
        result: dict[str, Any] = {"job_id": job["id"], "uploaded": [], "skipped": [], "failed": [], "rows": False}
        done: list[tuple[dict[str, Any], str]] = []
        for asset in self.ledger.assets.for_job(job["id"]):
            try:
                path = remote_path(self.owner, job, asset)
            except OurvidzError as exc:  # a name Storage would refuse: nothing is sent, the rows wait
                result["failed"].append({"asset_id": asset["id"], "error": str(exc)})
                continue
            if self._sync_asset(job, asset, path, result):
                done.append((asset, f"{asset['bucket']}/{path}"))
        if not result["failed"]:
            try:
                self._rows(job, done)
                result["rows"] = True
            except SupabaseError as exc:
                self.ledger.sync.job_failed(job["id"], job["uuid"], str(exc))
                result["failed"].append({"rows": str(exc)})
        return result

    def run(self, job_id: int | None = None, dry_run: bool = False) -> dict[str, Any]:
        jobs = self.pending_jobs(job_id)
        if dry_run or not jobs:
            plan = [{"job_id": j["id"], "assets": [
                {"asset_id": a["id"], "remote": f"{a['bucket']}/{remote_path(self.owner, j, a)}", "bytes": a["bytes"],
                 "refused": self._local_refusal(a)} for a in self.ledger.assets.for_job(j["id"])
                if (self._state(a["id"]) or {}).get("status") not in (SYNCED, SKIPPED)]} for j in jobs]
            return {"dry_run": dry_run, "jobs": plan, "uploaded": 0, "skipped": 0, "failed": 0}
        assert self.client is not None
        self.client.buckets()  # fail fast, with one line, when the project cannot be reached or the key is wrong
        results = []
        for job in jobs:
            self.say(f"job {job['id']} ({job['type']})")
            results.append(self.sync_job(job))
        return {"dry_run": False, "jobs": results,
                "uploaded": sum(len(r["uploaded"]) for r in results),
                "skipped": sum(len(r["skipped"]) for r in results),
                "failed": sum(len(r["failed"]) for r in results)}

    def setup(self) -> list[dict[str, Any]]:
        """Create every bucket it can. One whose limit is above the project's global upload limit (50 MB
        on the free plan) is created under the global limit instead, with a warning; one that cannot be
        created at all is reported with the reason, and setup goes on with the rest."""
        assert self.client is not None
        return [self._setup_bucket(bucket) for bucket in self.catalog.buckets.values()]

    def _setup_bucket(self, bucket: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"bucket": bucket.name, "created": False, "limit_mb": bucket.max_mb, "problem": None}
        try:
            check_bucket(bucket.name)
        except OurvidzError as exc:
            out["problem"] = f"{exc}"
            return out
        try:
            self._create_bucket(bucket, out)
        except SupabaseError as exc:
            out["problem"] = f"{exc}"
        return out

    def _create_bucket(self, bucket: Any, out: dict[str, Any]) -> None:
        """Create with the catalog's limit; above the project's global limit (413), under the global one."""
        assert self.client is not None
        limit = int(bucket.max_mb * 2**20) if bucket.max_mb else None
        try:
            out["created"] = self.client.create_bucket(bucket.name, bucket.public, limit, list(bucket.mime))
            return
        except SupabaseError as exc:
            if exc.code != "413":
                raise
        out["created"] = self.client.create_bucket(bucket.name, bucket.public, None, list(bucket.mime))
        out["limit_mb"] = None
        out["warning"] = (f"the project's global upload limit is below the {bucket.max_mb:g} MB this bucket "
                          "wants: created under the global limit, and larger files will be skipped; raise "
                          "the limit in the dashboard (Storage > Settings) for them")

    def url(self, asset_id: int, expires_s: int) -> str:
        assert self.client is not None
        state = self._state(asset_id)
        if not state or state["status"] != SYNCED:
            raise UsageError(f"asset {asset_id} is not synced; run 'ourvidz sync' first")
        return self.client.sign(self.ledger.assets.get(asset_id)["bucket"], state["remote_path"], expires_s)
