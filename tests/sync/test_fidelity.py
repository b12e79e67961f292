"""Supabase as the real servers answer, and ourvidz against it: Storage's key rules, TUS expiry and chunk
sizes, PostgREST's status mapping, and the retry paths those answers exercise."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import OWNER, SECRET_KEY, Result, jobs, rows
from tests.support import postgres
from tests.support.supabase_server import FakeSupabase
from tests.sync.test_sync import big_video_job, kill_sync_mid_upload

JOB = {"id": "0b7e9a33-5c1d-4f0e-8a2b-9c4d3e2f1a00", "user_id": OWNER, "job_type": "image_fast",
       "status": "completed"}


def _client(supa: FakeSupabase) -> object:
    from ourvidz_cli.sync.client import Client, SupabaseConfig

    return Client(SupabaseConfig(supa.url, SECRET_KEY, OWNER), retries=3, backoff_s=0.01)


def test_owner_must_be_a_uuid(cli: Callable[..., Result], supa: FakeSupabase,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURVIDZ_SUPABASE_USER_ID", "bob")
    res = cli("--smoke", "sync", "--dry-run")
    assert res.code == 2 and len(res.err.strip().splitlines()) == 1
    assert "OURVIDZ_SUPABASE_USER_ID 'bob' is not a UUID" in res.err and not supa.state.log


def test_a_key_storage_would_refuse_is_never_sent(cli: Callable[..., Result], home: Path,
                                                  supa: FakeSupabase) -> None:
    assert cli("--smoke", "generate", "image_fast", "a fox").code == 0
    assert cli("--smoke", "sync", "setup").code == 0
    with sqlite3.connect(home / "ledger.db") as conn:  # a remote queue's item id, adopted as the job's uuid
        conn.execute("UPDATE jobs SET uuid = 'job#5'")
    res = cli("--smoke", "sync", "--json")
    assert res.code == 1
    (failure,) = res.json()["jobs"][0]["failed"]
    assert "object key" in failure["error"] and "job#5" in failure["error"]
    assert not [e for e in supa.state.log if "/object/" in e["path"]]
    # ... which is what the server would have said: Storage decodes the path and checks the key.
    refused = httpx.post(f"{supa.url}/storage/v1/object/image_fast/{OWNER}/job%235_0.png", content=b"x",
                         headers={"apikey": SECRET_KEY, "Content-Type": "image/png"})
    assert refused.status_code == 400 and refused.json()["error"] == "InvalidKey"
    bucket = httpx.post(f"{supa.url}/storage/v1/bucket", json={"id": "a/b", "name": "a/b"},
                        headers={"apikey": SECRET_KEY})
    assert bucket.status_code == 400 and bucket.json()["code"] == "InvalidBucketName"


def test_postgrest_maps_constraint_errors_to_400_and_ourvidz_does_not_retry(supa: FakeSupabase) -> None:
    from ourvidz_cli.sync.client import SupabaseError

    client = _client(supa)
    for bad, code in (({**JOB, "job_type": None}, "23502"), ({**JOB, "status": "sleeping"}, "23514")):
        before = len(supa.state.log)
        with pytest.raises(SupabaseError) as err:
            client.upsert("jobs", [bad])  # type: ignore[attr-defined]
        assert err.value.code == code and supa.state.log[-1]["status"] == 400 and len(supa.state.log) == before + 1
    other = {**JOB, "id": "1c2d3e4f-0000-4000-8000-000000000001", "prompt": "x"}
    with pytest.raises(SupabaseError) as mixed:
        client.upsert("jobs", [JOB, other])  # type: ignore[attr-defined]
    assert mixed.value.code == "PGRST102"


def test_transient_postgrest_errors_are_retried(cli: Callable[..., Result], supa: FakeSupabase,
                                                pg: postgres.Cluster) -> None:
    assert cli("--smoke", "generate", "image_fast", "a fox").code == 0
    assert cli("--smoke", "sync", "setup").code == 0
    supa.state.pg_unreachable, supa.state.pg_timeouts = 2, 1
    res = cli("--smoke", "sync", "--json")
    assert res.code == 0, res.err
    statuses = [e["status"] for e in supa.state.log if e["path"].startswith("/rest/v1/")]
    assert statuses[:3] == [503, 503, 500] and statuses[3] == 201  # PGRST001 twice, then a 57014, then done
    assert len(rows(pg, "jobs")) == 1 and len(rows(pg, "images")) == 1


def test_an_expired_tus_upload_starts_again_without_a_duplicate(cli: Callable[..., Result], home: Path,
                                                               supa: FakeSupabase) -> None:
    job, data = big_video_job(cli, home)
    supa.state.upload_expires_s = 1.0
    supa.state.stall_s = 3.0  # past the client's 2 s timeout: its retry of the chunk arrives after the expiry
    supa.fault("PATCH", r"/upload/resumable/", "stall", times=1, skip=1)
    res = cli("--smoke", "sync", "--json")
    assert res.code == 0, res.err
    assert "starting it again" in res.err
    assert any(e["method"] == "PATCH" and e["status"] == 410 for e in supa.state.log)
    assert len(supa.state.uploads) == 2  # a second upload, for the same object
    key = ("video_fast", f"{OWNER}/{job['uuid']}_0.mp4")
    assert supa.state.objects[key] == (data, "video/mp4")
    assert [k for k in supa.state.objects if k[0] == "video_fast"] == [key]
    assert jobs(home)[0]["status"] == "completed"


def test_tus_takes_any_chunk_size_and_announces_expiry(supa: FakeSupabase) -> None:
    import base64

    supa.add_bucket("video_fast")
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    (("bucketName", "video_fast"), ("objectName", f"{OWNER}/x.mp4"), ("contentType", "video/mp4")))
    head = {"apikey": SECRET_KEY, "Tus-Resumable": "1.0.0"}
    made = httpx.post(f"{supa.url}/storage/v1/upload/resumable", headers={
        **head, "Upload-Length": "3000000", "Upload-Metadata": meta})
    assert made.status_code == 201 and made.headers["upload-expires"].endswith("GMT")
    offset = 0
    for size in (1_000_000, 1_500_000, 500_000):  # not 6 MB: the server does not care
        sent = httpx.patch(made.headers["location"], content=b"\0" * size, headers={
            **head, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        assert sent.status_code == 204, sent.text
        offset += size
    assert len(supa.state.objects[("video_fast", f"{OWNER}/x.mp4")][0]) == 3_000_000


def test_a_bucket_may_take_a_whole_mime_type(cli: Callable[..., Result], tmp_path: Path) -> None:
    from ourvidz_cli.catalog.schema import Bucket

    # Storage's own rule (uploader.ts validateMimeType): `image/*` takes every image subtype.
    overlay = tmp_path / "wild.toml"
    overlay.write_text('base = "default"\n[buckets.image_fast]\nmax_mb = 5\nmime = ["image/*"]\n')
    res = cli("--config", str(overlay), "job-types", "--json")
    assert res.code == 0, res.err
    wild = Bucket("image_fast", 5, ("image/*",))
    assert wild.accepts("image/png") and wild.accepts("image/webp") and not wild.accepts("video/mp4")
    assert Bucket("any", None, ()).accepts("video/mp4") and not Bucket("png", None, ("image/png",)).accepts("image/gif")


def test_a_killed_upload_that_expired_meanwhile_starts_again(cli: Callable[..., Result], home: Path,
                                                            supa: FakeSupabase, pg: postgres.Cluster) -> None:
    job, data = big_video_job(cli, home)
    kill_sync_mid_upload(home, supa)
    for upload in supa.state.uploads.values():  # a day passes: the server drops the half-done upload
        upload.expires_at = 0
    resumed = cli("--smoke", "sync", "--json")
    assert resumed.code == 0, resumed.err
    assert any(e["method"] == "HEAD" and e["status"] == 410 for e in supa.state.log)
    key = ("video_fast", f"{OWNER}/{job['uuid']}_0.mp4")
    assert supa.state.objects[key] == (data, "video/mp4") and len(supa.state.uploads) == 2
    assert len(rows(pg, "videos")) == 1
