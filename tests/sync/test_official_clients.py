"""The official clients as the oracle: supabase-py (storage3, postgrest) and tuspy drive the Supabase test
server through every operation ourvidz uses, and the neighbours a real project answers. A change to the
server that a real client would not accept fails here. (ourvidz keeps its own thin httpx client.)"""

from __future__ import annotations

import base64
import io
import time
import uuid
from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import Client, create_client
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

from tests.conftest import OWNER, SECRET_KEY
from tests.support.supabase_server import FakeSupabase

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def sb(supa: FakeSupabase) -> Client:
    # supabase-py sends the key as apikey and as the bearer token, which the platform accepts for sb_secret_.
    return create_client(supa.url, SECRET_KEY)


def job_row(**extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "user_id": OWNER, "job_type": "image_fast", "status": "completed", **extra}


def refused(call: Any) -> StorageApiError:
    with pytest.raises(StorageApiError) as err:
        call()
    return err.value


def test_buckets_as_storage3_reads_them(sb: Client, supa: FakeSupabase) -> None:
    sb.storage.create_bucket("image_fast", options={"public": False, "file_size_limit": 10 * 2**20,
                                                    "allowed_mime_types": ["image/png"]})
    sb.storage.create_bucket("videos", options={"public": True, "file_size_limit": "20MB"})
    (image, videos) = sorted(sb.storage.list_buckets(), key=lambda b: b.name)  # pydantic-validated records
    assert image.allowed_mime_types == ["image/png"] and image.file_size_limit == 10 * 2**20
    assert videos.public and videos.file_size_limit == 20_000_000 and videos.created_at is not None
    assert sb.storage.get_bucket("videos").id == "videos"
    assert str(refused(lambda: sb.storage.get_bucket("nope")).status) == "404"
    assert str(refused(lambda: sb.storage.create_bucket("videos")).status) == "409"
    too_big = refused(lambda: sb.storage.create_bucket("big", options={"file_size_limit": 200 * 2**20}))
    assert str(too_big.status) == "413" and "big" not in supa.state.buckets
    assert refused(lambda: sb.storage.create_bucket("a/b")).code == "Invalid Input"
    assert str(refused(lambda: sb.storage.create_bucket("m", options={"allowed_mime_types": ["png"]})).status) == "415"


def test_upload_download_sign_and_delete(sb: Client, supa: FakeSupabase) -> None:
    sb.storage.create_bucket("image_fast", options={"allowed_mime_types": ["image/*"], "file_size_limit": 4096})
    bucket = sb.storage.from_("image_fast")
    key = f"{OWNER}/job_0.png"
    assert bucket.upload(key, PNG, {"content-type": "image/png"}).full_path == f"image_fast/{key}"
    assert supa.state.cache_control[("image_fast", key)] == "max-age=3600"  # storage3's multipart cacheControl
    assert str(refused(lambda: bucket.upload(key, PNG, {"content-type": "image/png"})).status) == "409"
    bucket.upload(key, PNG[::-1], {"content-type": "image/png", "upsert": "true"})
    assert bucket.download(key) == PNG[::-1]
    bucket.upload(f"{OWNER}/job_1.webp", PNG, {"content-type": "image/webp"})  # image/* takes any image
    # The type is checked before the size: a too-big file of the wrong type is a 415.
    assert str(refused(lambda: bucket.upload("x.mp4", PNG * 8, {"content-type": "video/mp4"})).status) == "415"
    assert str(refused(lambda: bucket.upload("x.png", PNG * 8, {"content-type": "image/png"})).status) == "413"
    assert refused(lambda: bucket.upload("caf\u00e9.png", PNG, {"content-type": "image/png"})).code == "InvalidKey"
    signed = bucket.create_signed_url(key, 60)["signedURL"]
    assert httpx.get(signed).content == PNG[::-1]
    removed = bucket.remove([key, "never-there.png"])
    assert [r["name"] for r in removed] == [key]
    missing = refused(lambda: bucket.download(key))
    assert str(missing.status) == "404" and missing.code == "not_found"
    assert str(refused(lambda: sb.storage.from_("nope").upload("a.png", PNG)).status) == "404"


def tus_uploader(supa: FakeSupabase, data: bytes, key: str, upsert: bool = False, **kw: Any) -> Any:
    headers = {"apikey": SECRET_KEY, "Authorization": f"Bearer {SECRET_KEY}"}
    if upsert:
        headers["x-upsert"] = "true"
    client = tus.TusClient(f"{supa.url}/storage/v1/upload/resumable", headers=headers)
    meta = {"bucketName": "video_fast", "objectName": key, "contentType": "video/mp4", "cacheControl": "3600"}
    return client.uploader(file_stream=io.BytesIO(data), chunk_size=1_000_000, metadata=meta, **kw)


def test_tus_upload_resume_upsert_and_expiry(sb: Client, supa: FakeSupabase) -> None:
    sb.storage.create_bucket("video_fast", options={"allowed_mime_types": ["video/mp4"]})
    data, key = bytes(range(256)) * 10_000, f"{OWNER}/clip_0.mp4"  # 2.56 MB: three chunks
    first = tus_uploader(supa, data, key)
    first.upload(stop_at=1_000_000)
    resumed = tus_uploader(supa, data, key, url=first.url)  # a new process: HEAD says where it stands
    assert resumed.offset == 1_000_000
    resumed.upload()
    assert supa.state.objects[("video_fast", key)] == (data, "video/mp4")
    assert supa.state.cache_control[("video_fast", key)] == "max-age=3600"
    with pytest.raises(TusCommunicationError) as exists:  # the object is there: only x-upsert may replace it
        tus_uploader(supa, data[::-1], key).upload()
    assert exists.value.status_code == 409
    tus_uploader(supa, data[::-1], key, upsert=True).upload()
    assert supa.state.objects[("video_fast", key)][0] == data[::-1]
    supa.state.upload_expires_s = 0.5
    late = tus_uploader(supa, data, f"{OWNER}/clip_1.mp4")
    late.upload(stop_at=1_000_000)
    time.sleep(0.6)
    with pytest.raises(TusCommunicationError) as gone:
        late.get_offset()
    assert gone.value.status_code == 410


def test_tus_refusals_come_as_plain_text_with_real_statuses(sb: Client, supa: FakeSupabase) -> None:
    sb.storage.create_bucket("video_fast", options={"allowed_mime_types": ["video/mp4"], "file_size_limit": 1000})
    for bucket, size, status in (("nope", 10, 404), ("video_fast", 5000, 413)):
        resp = httpx.post(f"{supa.url}/storage/v1/upload/resumable", headers={
            "apikey": SECRET_KEY, "Tus-Resumable": "1.0.0", "Upload-Length": str(size),
            "Upload-Metadata": f"bucketName {_b64(bucket)},objectName {_b64('a.mp4')},contentType {_b64('video/mp4')}"})
        assert resp.status_code == status and resp.headers["content-type"].startswith("text/plain")
    with pytest.raises(TusCommunicationError) as wrong_type:
        client = tus.TusClient(f"{supa.url}/storage/v1/upload/resumable", headers={"apikey": SECRET_KEY})
        client.uploader(file_stream=io.BytesIO(b"x" * 10), metadata={
            "bucketName": "video_fast", "objectName": "a.png", "contentType": "image/png"}).upload()
    assert wrong_type.value.status_code == 415


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_postgrest_writes_reads_and_errors(sb: Client) -> None:
    a, b = job_row(prompt="a fox"), job_row(prompt="a hen", status="failed")
    written = sb.table("jobs").upsert([a, b], on_conflict="id").execute().data  # return=representation
    assert sorted(r["prompt"] for r in written) == ["a fox", "a hen"] and written[0]["metadata"] == {}
    merged = sb.table("jobs").upsert({**a, "prompt": "a red fox"}, on_conflict="id").execute().data
    assert merged[0]["prompt"] == "a red fox"
    ignored = sb.table("jobs").upsert({**a, "prompt": "ignored"}, ignore_duplicates=True).execute().data
    assert ignored == []
    got = sb.table("jobs").select("id,prompt,status").eq("user_id", OWNER).in_("status", ["completed", "failed"]) \
        .order("prompt", desc=True).limit(5).execute().data
    assert got == [{"id": a["id"], "prompt": "a red fox", "status": "completed"},
                   {"id": b["id"], "prompt": "a hen", "status": "failed"}]
    assert sb.table("jobs").select("id").neq("status", "failed").execute().data == [{"id": a["id"]}]
    updated = sb.table("jobs").update({"status": "failed"}).eq("id", a["id"]).execute().data
    assert updated[0]["status"] == "failed" and updated[0]["prompt"] == "a red fox"
    assert len(sb.table("jobs").delete().eq("id", b["id"]).execute().data) == 1
    assert [r["id"] for r in sb.table("jobs").select("id").execute().data] == [a["id"]]
    for bad, code in ((job_row(status="sleeping"), "23514"), (a, "23505"), (job_row(job_type=None), "23502")):
        with pytest.raises(APIError) as err:
            sb.table("jobs").insert(bad).execute()
        assert err.value.code == code
    with pytest.raises(APIError) as no_table:
        sb.table("nope").select("*").execute()
    assert no_table.value.code == "PGRST205"
    with pytest.raises(APIError) as no_column:
        sb.table("jobs").select("*").eq("colour", "red").execute()
    assert no_column.value.code == "42703"


def test_postgrest_bulk_rows_with_differing_keys(sb: Client, supa: FakeSupabase) -> None:
    # postgrest-py names the columns, so a missing key is NULL (here refused by NOT NULL) ...
    with pytest.raises(APIError) as err:
        sb.table("jobs").insert([job_row(), {"id": str(uuid.uuid4()), "user_id": OWNER}]).execute()
    assert err.value.code == "23502"
    # ... while a bare bulk insert (as ourvidz sends) must have the same keys in every row.
    resp = httpx.post(f"{supa.url}/rest/v1/jobs", json=[job_row(), job_row(prompt="x")],
                      headers={"apikey": SECRET_KEY})
    assert resp.status_code == 400 and resp.json()["code"] == "PGRST102"
    minimal = httpx.post(f"{supa.url}/rest/v1/jobs", json=[job_row()], headers={"apikey": SECRET_KEY})
    assert minimal.status_code == 201 and minimal.content == b""
