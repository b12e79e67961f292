"""Contract tests against a real Supabase project: they run only when SUPABASE_TEST_URL and
SUPABASE_TEST_KEY are set (a throwaway project: they create a bucket `ourvidz-contract` and write to it).
They pin down the server behaviour the client and the loopback test server rely on."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from ourvidz_cli.sync.client import Client, SupabaseConfig, SupabaseError

URL, KEY = os.environ.get("SUPABASE_TEST_URL"), os.environ.get("SUPABASE_TEST_KEY")
pytestmark = pytest.mark.skipif(not (URL and KEY), reason="set SUPABASE_TEST_URL and SUPABASE_TEST_KEY to run")
BUCKET = "ourvidz-contract"


@pytest.fixture
def client() -> Client:
    return Client(SupabaseConfig(url=str(URL).rstrip("/"), key=str(KEY), owner=str(uuid.uuid4())), retries=2)


def test_bucket_create_is_idempotent_by_body_code(client: Client) -> None:
    client.create_bucket(BUCKET, False, 1024 * 1024, ["image/png"])
    assert client.create_bucket(BUCKET, False, 1024 * 1024, ["image/png"]) is False  # 400 + statusCode 409


def test_upload_upsert_sign_and_refusals(client: Client, tmp_path: Path) -> None:
    import httpx

    client.create_bucket(BUCKET, False, 1024 * 1024, ["image/png"])
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    name = f"contract/{uuid.uuid4()}.png"
    client.upload(BUCKET, name, png, "image/png")
    client.upload(BUCKET, name, png, "image/png")  # x-upsert: the second write is not a 409
    assert httpx.get(client.sign(BUCKET, name, 60)).content == png.read_bytes()
    with pytest.raises(SupabaseError) as wrong_type:
        client.upload(BUCKET, f"contract/{uuid.uuid4()}.mp4", png, "video/mp4")
    assert wrong_type.value.code == "415"
    big = tmp_path / "big.png"
    big.write_bytes(b"\x00" * (2 * 1024 * 1024))
    with pytest.raises(SupabaseError) as too_big:
        client.upload(BUCKET, f"contract/{uuid.uuid4()}.png", big, "image/png")
    assert too_big.value.code == "413"
    with pytest.raises(SupabaseError) as no_bucket:
        client.upload("ourvidz-no-such-bucket", "x.png", png, "image/png")
    assert no_bucket.value.code == "404"
