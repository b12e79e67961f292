"""Answers of the Supabase test server that a review compared with real Supabase (issue 25, finding 22):
each is the real service's status and message, so a client handling them is tested against the truth."""

from __future__ import annotations

import base64
import json
import time

import httpx

from tests.conftest import OWNER, SECRET_KEY
from tests.support.supabase_server import FakeSupabase

KEY = {"apikey": SECRET_KEY}


def _jwt(exp: float) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'role': 'authenticated', 'exp': int(exp)})}.c2ln"


def _create(supa: FakeSupabase, name: str, content_type: str) -> httpx.Response:
    """A TUS create in the bucket `image_fast`, which takes PNG only."""
    supa.add_bucket("image_fast", mime=["image/png"])
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"bucketName": "image_fast", "objectName": f"{OWNER}/{name}", "contentType": content_type}.items())
    return httpx.post(f"{supa.url}/storage/v1/upload/resumable", headers={
        **KEY, "Tus-Resumable": "1.0.0", "Upload-Length": "4", "Upload-Metadata": meta})


def _tus_upload(supa: FakeSupabase) -> str:
    made = _create(supa, "a.png", "image/png")
    assert made.status_code == 201
    return made.headers["location"]


def test_a_select_with_only_a_secret_apikey_reads_rows(supa: FakeSupabase) -> None:
    res = httpx.get(f"{supa.url}/rest/v1/jobs?select=id&limit=1", headers=KEY)
    assert res.status_code == 200 and res.json() == []


def test_missing_apikey_and_expired_jwt_answers(supa: FakeSupabase) -> None:
    res = httpx.get(f"{supa.url}/rest/v1/jobs?select=id")
    assert res.status_code == 401
    assert res.json() == {"message": "No API key found in request",
                          "hint": "No `apikey` request header or url param was found."}
    expired = {**KEY, "Authorization": f"Bearer {_jwt(time.time() - 60)}"}
    res = httpx.get(f"{supa.url}/rest/v1/jobs?select=id", headers=expired)
    assert res.status_code == 401
    assert res.json() == {"code": "PGRST303", "details": None, "hint": None, "message": "JWT expired"}
    res = httpx.get(f"{supa.url}/storage/v1/bucket", headers=expired)
    assert res.status_code == 400 and res.json()["error"] == "InvalidJWT"
    assert res.json()["message"] == '"exp" claim timestamp check failed'


def test_tus_patch_needs_tus_resumable_and_its_content_type(supa: FakeSupabase) -> None:
    url = _tus_upload(supa)
    res = httpx.patch(url, content=b"abcd", headers={**KEY, "Upload-Offset": "0",
                                                     "Content-Type": "application/offset+octet-stream"})
    assert res.status_code == 412 and res.headers["tus-version"] == "1.0.0"
    res = httpx.patch(url, content=b"abcd", headers={**KEY, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                                                     "Content-Type": "application/json"})
    assert res.status_code == 415
    head = httpx.head(url, headers={**KEY, "Tus-Resumable": "1.0.0"})
    assert head.status_code == 200 and head.headers["upload-expires"].endswith("GMT")


def test_tus_create_with_a_refused_content_type_is_415(supa: FakeSupabase) -> None:
    assert _create(supa, "a.gif", "image/gif").status_code == 415
