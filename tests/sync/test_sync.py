"""Supabase sync against a loopback server that answers like Supabase, its rows in a real PostgreSQL
holding the seed's tables: first sync, re-sync, faults, a killed and resumed large upload, permanent
refusals, bad keys, a network that is down, and keys that never leak."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import JWT_KEY, OWNER, SECRET_KEY, Result, jobs, rows, wait_for
from tests.support import postgres
from tests.support.supabase_server import FakeSupabase


def make_jobs(cli: Callable[..., Result]) -> None:
    assert cli("--smoke", "generate", "sdxl_image_fast", "a red fox", "--steps", "1", "--count", "2").code == 0
    assert cli("--smoke", "generate", "video_fast", "waves on rocks").code == 0
    assert cli("--smoke", "generate", "image_fast", "a lighthouse").code == 0


def test_first_sync_then_nothing_twice(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                       pg: postgres.Cluster) -> None:
    make_jobs(cli)
    setup = cli("--smoke", "sync", "setup", "--json")
    assert setup.code == 0, setup.err
    assert sum(b["created"] for b in setup.json()["buckets"]) == 13  # the seed's twelve and reference_images
    # Real Storage refuses a bucket limit above the project's global one (50 MB on the free plan) with 413:
    # those buckets are made under the global limit, and setup says so instead of stopping at the first.
    warned = {b["bucket"] for b in setup.json()["buckets"] if b.get("warning")}
    assert warned == {"video_high", "video7b_fast_enhanced", "video7b_high_enhanced"}
    assert supa.state.buckets["video_high"]["file_size_limit"] is None
    assert supa.state.buckets["video_fast"]["file_size_limit"] == 50 * 2**20
    assert supa.state.buckets["sdxl_image_fast"]["allowed_mime_types"] == ["image/png"]
    assert supa.state.buckets["videos"]["public"] is True
    assert all(not b["created"] for b in cli("--smoke", "sync", "setup", "--json").json()["buckets"])

    dry = cli("--smoke", "sync", "--dry-run", "--json").json()
    assert len(dry["jobs"]) == 3 and supa.count("POST", "/storage/v1/object/") == 0

    first = cli("--smoke", "sync", "--json")
    assert first.code == 0, first.err
    assert first.json()["uploaded"] == 4 and first.json()["failed"] == 0
    by_type = {j["type"]: j for j in jobs(home)}
    fox = by_type["sdxl_image_fast"]
    for n in (0, 1):
        data, mime = supa.state.objects[("sdxl_image_fast", f"{OWNER}/{fox['uuid']}_{n}.png")]
        assert mime == "image/png"
        assert data == (home / "outputs" / "sdxl_image_fast" / f"{fox['id']}_{n}.png").read_bytes()
        # A valid Cache-Control value, as storage-js sends: Storage stores and serves the header as given.
        assert supa.state.cache_control[("sdxl_image_fast", f"{OWNER}/{fox['uuid']}_{n}.png")] == "max-age=3600"
    video = by_type["video_fast"]
    assert supa.state.objects[("video_fast", f"{OWNER}/{video['uuid']}_0.mp4")][1] == "video/mp4"

    remote_jobs = {str(r["id"]): r for r in rows(pg, "jobs")}
    assert set(remote_jobs) == {j["uuid"] for j in jobs(home)}
    assert remote_jobs[fox["uuid"]]["metadata"]["prompt"] == "a red fox"
    assert remote_jobs[fox["uuid"]]["metadata"]["bucket"] == "sdxl_image_fast"
    assert str(remote_jobs[fox["uuid"]]["user_id"]) == OWNER
    images = rows(pg, "images")
    assert len(images) == 2
    fox_row = next(r for r in images if str(r["job_id"]) == fox["uuid"])
    assert fox_row["image_urls"] == [f"sdxl_image_fast/{OWNER}/{fox['uuid']}_{n}.png" for n in (0, 1)]
    assert fox_row["metadata"]["prompt"] == "a red fox"
    (video_row,) = rows(pg, "videos")
    assert video_row["video_url"] == f"video_fast/{OWNER}/{video['uuid']}_0.mp4"

    posts = supa.count("POST", "/storage/v1/object/")
    again = cli("--smoke", "sync", "--json")
    assert again.code == 0 and again.json()["uploaded"] == 0 and again.json()["jobs"] == []
    assert supa.count("POST", "/storage/v1/object/") == posts
    assert len(rows(pg, "jobs")) == 3 and len(rows(pg, "images")) == 2 and len(rows(pg, "videos")) == 1
    status = cli("--smoke", "sync", "status", "--json").json()
    assert status["assets"] == {"pending": 0, "synced": 4, "failed": 0, "skipped": 0} and status["jobs_synced"] == 3

    # A crash after the rows were written but before the ledger noted it: the rows are written again,
    # as upserts on the same ids, and nothing is duplicated.
    import sqlite3

    with sqlite3.connect(home / "ledger.db") as conn:
        conn.execute("DELETE FROM sync_jobs")
    redo = cli("--smoke", "sync", "--json")
    assert redo.code == 0 and redo.json()["uploaded"] == 0 and len(redo.json()["jobs"]) == 3
    assert len(rows(pg, "jobs")) == 3 and len(rows(pg, "images")) == 2 and len(rows(pg, "videos")) == 1


def test_signed_url(cli: Callable[..., Result], home: Path, supa: FakeSupabase) -> None:
    assert cli("--smoke", "generate", "image_fast", "a lighthouse").code == 0
    cli("--smoke", "sync", "setup")
    assert cli("assets", "url", "1").code == 2  # not synced yet
    assert cli("--smoke", "sync").code == 0
    url = cli("assets", "url", "1", "--expires", "60", "--json").json()["url"]
    assert url.startswith(supa.url) and "token=" in url
    assert httpx.get(url).content == (home / "outputs" / "image_fast" / "1_0.png").read_bytes()
    short = cli("assets", "url", "1", "--expires", "1").out.strip()
    time.sleep(2.1)
    expired = httpx.get(short)
    assert expired.status_code == 400 and expired.json()["message"] == "jwt expired"


def test_faults_are_retried_until_complete(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                           pg: postgres.Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jobs(cli)
    cli("--smoke", "sync", "setup")
    monkeypatch.setenv("OURVIDZ_SUPABASE_TIMEOUT", "1")
    supa.state.stall_s = 1.5
    supa.fault("POST", r"/storage/v1/object/", "500", times=2)
    supa.fault("POST", r"/storage/v1/object/video_fast", "drop")
    supa.fault("POST", r"/storage/v1/object/image_fast", "stall")
    supa.fault("POST", r"/rest/v1/jobs", "429")
    supa.fault("POST", r"/rest/v1/images", "500")
    done = cli("--smoke", "sync", "--json")
    assert done.code == 0, done.err
    assert done.json()["uploaded"] == 4 and done.json()["failed"] == 0
    assert all(f.times == 0 for f in supa.state.faults)
    assert len(supa.state.objects) == 4
    assert len(rows(pg, "jobs")) == 3 and len(rows(pg, "images")) == 2 and len(rows(pg, "videos")) == 1


def test_partial_failure_then_resync(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                     pg: postgres.Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    make_jobs(cli)
    cli("--smoke", "sync", "setup")
    monkeypatch.setenv("OURVIDZ_SUPABASE_RETRIES", "1")
    supa.fault("POST", r"/storage/v1/object/video_fast", "500", times=5)
    partial = cli("--smoke", "sync", "--json")
    assert partial.code == 1 and partial.json()["failed"] == 1 and partial.json()["uploaded"] == 3
    assert {str(r["job_type"]) for r in rows(pg, "jobs")} == {"sdxl_image_fast", "image_fast"}
    status = cli("--smoke", "sync", "status", "--json").json()
    assert status["assets"]["failed"] == 1 and "500" in status["problems"][0]["error"]
    supa.state.faults.clear()
    posts = supa.count("POST", "/storage/v1/object/")
    healed = cli("--smoke", "sync", "--json")
    assert healed.code == 0 and healed.json()["uploaded"] == 1
    assert supa.count("POST", "/storage/v1/object/") == posts + 1  # only the one that failed
    assert len(rows(pg, "jobs")) == 3 and len(rows(pg, "videos")) == 1


def test_refused_files_are_skipped_and_never_retried(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                                     tmp_path: Path) -> None:
    make_jobs(cli)
    # The project's buckets were made elsewhere with other rules: the server refuses, by body code.
    supa.add_bucket("video_fast", mime=["image/png"])
    supa.add_bucket("image_fast", limit=100)
    cli("--smoke", "sync", "setup")
    first = cli("--smoke", "sync", "--json").json()
    reasons = {s["reason"].split(" (")[0] for j in first["jobs"] for s in j["skipped"]}
    assert reasons == {"a type the bucket refuses", "larger than the bucket allows"}
    assert first["uploaded"] == 2 and first["failed"] == 0
    posts = supa.count("POST", "/storage/v1/object/") + len([e for e in supa.state.log if e["status"] == 400])
    again = cli("--smoke", "sync", "--json").json()
    assert again["uploaded"] == 0 and again["jobs"] == []
    assert supa.count("POST", "/storage/v1/object/") + len([e for e in supa.state.log if e["status"] == 400]) \
        == posts
    status = cli("--smoke", "sync", "status").out
    assert "2 skipped" in status and "refuses" in status

    # The catalog's own limits are checked before sending anything.
    strict = tmp_path / "strict.toml"
    strict.write_text(f'base = "default"\n[models.sdxl]\npath = "{home}/smoke/models/sdxl"\nrepo = false\n'
                      f'vae = false\n[job_types.sdxl_image_fast]\nsize = "64x64"\n'
                      '[buckets.sdxl_image_fast]\nmax_mb = 0.001\nmime = ["image/png"]\n')
    assert cli("--config", str(strict), "generate", "sdxl_image_fast", "tiny", "--steps", "1",
               "--count", "1").code == 0
    before = len(supa.state.log)
    local = cli("--config", str(strict), "sync", "--json").json()
    assert local["skipped"] == 1 and "over bucket sdxl_image_fast" in local["jobs"][0]["skipped"][0]["reason"]
    assert not any("/object/sdxl_image_fast" in e["path"] for e in supa.state.log[before:])


def test_bad_key_missing_settings_and_network_down(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    make_jobs(cli)
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", "sb_secret_wrong_key_0000")
    bad = cli("--smoke", "sync")
    assert bad.code == 1 and len(bad.err.strip().splitlines()) == 1 and "Invalid API key" in bad.err
    assert "sb_secret_wrong_key_0000" not in bad.err + bad.out

    monkeypatch.delenv("SUPABASE_URL")
    missing = cli("--smoke", "sync")
    assert missing.code == 2 and "SUPABASE_URL" in missing.err

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SUPABASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", SECRET_KEY)
    monkeypatch.setenv("OURVIDZ_SUPABASE_RETRIES", "2")
    started = time.monotonic()
    down = cli("--smoke", "sync", "--json")
    assert down.code == 1 and time.monotonic() - started < 10
    assert down.out == "" and len(down.err.strip().splitlines()) == 1 and "no answer" in down.err
    status = cli("--smoke", "sync", "status", "--json").json()
    assert status["assets"]["synced"] == 0 and status["jobs_pending"] == 3


def test_jwt_keys_go_in_authorization_and_no_key_leaks(cli: Callable[..., Result], home: Path,
                                                        supa: FakeSupabase, monkeypatch: pytest.MonkeyPatch) -> None:
    supa.state.key = JWT_KEY
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", JWT_KEY)
    outputs = []
    for args in (("--smoke", "sync", "setup", "--json"),):
        outputs.append(cli(*args))
    assert cli("--smoke", "generate", "video_fast", "waves", "--sync", "--json").code == 0
    outputs.append(cli("--smoke", "sync", "status", "--json"))
    outputs.append(cli("assets", "url", "1", "--json"))
    assert cli("--smoke", "queue", "add", "image_fast", "x").code == 0
    outputs.append(cli("--smoke", "queue", "run", "--sync", "--json"))
    assert outputs[-1].code == 0 and len(supa.state.objects) == 2
    # sb_secret_ keys are not JWTs: the client sends them as apikey only.
    supa.state.key = SECRET_KEY
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", SECRET_KEY)
    assert cli("--smoke", "generate", "image_fast", "y", "--sync").code == 0
    assert len(supa.state.objects) == 3
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", JWT_KEY + "x")
    outputs.append(cli("--smoke", "sync"))
    for result in outputs:
        assert JWT_KEY not in result.out + result.err and SECRET_KEY not in result.out + result.err
    for path in home.rglob("*"):
        if path.is_file() and "smoke" not in path.parts:
            data = path.read_bytes()
            assert JWT_KEY.encode() not in data and SECRET_KEY.encode() not in data, path


def big_video(path: Path) -> None:
    """A real H.264 file over 6 MB (lossless noise), to go through the resumable endpoint."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=480x272:rate=16", "-t", "3", "-vf", "noise=alls=100:allf=t",
                    "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                   check=True)


def big_video_job(cli: Callable[..., Result], home: Path) -> tuple[dict, bytes]:
    """A finished video job whose output is swapped for a real H.264 file of two-plus TUS chunks (the
    smoke model's clips are a few KB), its asset row updated to match."""
    import sqlite3

    assert cli("--smoke", "generate", "video_fast", "a storm").code == 0
    cli("--smoke", "sync", "setup")
    (job,) = jobs(home)
    out = home / "outputs" / "video_fast" / f"{job['id']}_0.mp4"
    big_video(out)
    data = out.read_bytes()
    assert 2 * 6 * 2**20 < len(data) < 50 * 2**20
    with sqlite3.connect(home / "ledger.db") as conn:
        conn.execute("UPDATE assets SET bytes = ?, sha256 = ? WHERE job_id = ?",
                     [len(data), hashlib.sha256(data).hexdigest(), job["id"]])
    return job, data


def kill_sync_mid_upload(home: Path, supa: FakeSupabase) -> None:
    """Let the first chunk through, stall the second, and SIGKILL the sync while it waits for an answer."""
    supa.state.stall_s = 30
    supa.fault("PATCH", r"/upload/resumable/", "stall", times=1, skip=1)
    proc = subprocess.Popen([sys.executable, "-m", "ourvidz_cli", "--smoke", "sync", "--json"],
                            env={**os.environ, "OURVIDZ_HOME": str(home), "OURVIDZ_SUPABASE_TIMEOUT": "60"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: any(e["status"] == "fault:stall" for e in supa.state.log), timeout=60, what="stalled chunk")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_killed_large_upload_resumes(cli: Callable[..., Result], home: Path, supa: FakeSupabase,
                                     pg: postgres.Cluster) -> None:
    job, data = big_video_job(cli, home)
    kill_sync_mid_upload(home, supa)
    (upload,) = supa.state.uploads.values()
    assert len(upload.data) == 6 * 2**20 and ("video_fast", f"{OWNER}/{job['uuid']}_0.mp4") not in supa.state.objects
    status = cli("--smoke", "sync", "status", "--json").json()
    assert status["assets"]["synced"] == 0

    resumed = cli("--smoke", "sync", "--json")
    assert resumed.code == 0, resumed.err
    assert "resuming" in resumed.err
    sent = sum(e["bytes"] for e in supa.state.log if e["method"] == "PATCH-bytes")
    assert sent == len(data)  # the first 6 MB were not sent again
    assert supa.state.objects[("video_fast", f"{OWNER}/{job['uuid']}_0.mp4")] == (data, "video/mp4")
    assert len(supa.state.uploads) == 1 and len(rows(pg, "videos")) == 1


def test_postgrest_conflicts_are_409_with_the_database_code(supa: FakeSupabase) -> None:
    """What the client sees when rows break the seed's constraints: HTTP 409, the SQLSTATE in `code`,
    and no retry."""
    from ourvidz_cli.sync.client import Client, SupabaseConfig, SupabaseError

    client = Client(SupabaseConfig(supa.url, SECRET_KEY, OWNER), retries=3, backoff_s=0.01)
    orphan = {"id": "7d1f3c52-0c8e-4a45-9a8e-6f3b2f1d0a11", "user_id": OWNER, "status": "completed",
              "job_id": "0b7e9a33-5c1d-4f0e-8a2b-9c4d3e2f1a00"}
    before = len(supa.state.log)
    with pytest.raises(SupabaseError) as fk:
        client.upsert("images", [orphan])
    assert fk.value.code == "23503" and len(supa.state.log) == before + 1  # not retried
    job = {"id": orphan["job_id"], "user_id": OWNER, "job_type": "image_fast", "status": "completed"}
    client.upsert("jobs", [job])
    with pytest.raises(SupabaseError) as dup:
        client.request("POST", "/rest/v1/jobs", "inserting a job twice", json=[job])  # no merge-duplicates
    assert dup.value.code == "23505"
    with pytest.raises(SupabaseError) as column:
        client.upsert("jobs", [{**job, "colour": "red"}])
    assert column.value.code == "PGRST204"
    client.upsert("jobs", [{**job, "status": "failed"}])  # an upsert on the same id updates it


def test_lost_reply_to_a_chunk_is_recovered_from_the_servers_offset(cli: Callable[..., Result], home: Path,
                                                                    supa: FakeSupabase) -> None:
    """The server stored a chunk but its answer never arrived: the client's retry of that chunk gets 409,
    asks the server for its offset, and goes on; no byte is stored twice."""
    job, data = big_video_job(cli, home)
    supa.fault("PATCH", r"/upload/resumable/", "lose-reply", times=1)
    done = cli("--smoke", "sync", "--json")
    assert done.code == 0, done.err
    assert any(e["status"] == "fault:lose-reply" for e in supa.state.log)
    assert any(e["method"] == "PATCH" and e["status"] == 409 for e in supa.state.log)
    assert sum(e["bytes"] for e in supa.state.log if e["method"] == "PATCH-bytes") == len(data)
    assert supa.state.objects[("video_fast", f"{OWNER}/{job['uuid']}_0.mp4")] == (data, "video/mp4")


def test_setup_reports_a_bucket_it_could_not_create_and_makes_the_rest(
        cli: Callable[..., Result], home: Path, supa: FakeSupabase, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("--smoke", "job-types")
    monkeypatch.setenv("OURVIDZ_SUPABASE_RETRIES", "1")
    supa.fault("POST", r"/storage/v1/bucket$", "500", times=2)  # one bucket's create and its one retry
    setup = cli("--smoke", "sync", "setup", "--json")
    assert setup.code == 1
    buckets = setup.json()["buckets"]
    assert [b["bucket"] for b in buckets if b["problem"]] == [buckets[0]["bucket"]]
    assert "500" in buckets[0]["problem"] and len(supa.state.buckets) == 12


def test_reupload_over_an_existing_large_object_overwrites_it(cli: Callable[..., Result], home: Path,
                                                              supa: FakeSupabase) -> None:
    """The object is already there (an earlier sync uploaded it but died before recording it): every
    TUS request carries x-upsert, so the chunks are accepted instead of 409 forever."""
    job, data = big_video_job(cli, home)
    key = ("video_fast", f"{OWNER}/{job['uuid']}_0.mp4")
    supa.state.objects[key] = (b"an older upload", "video/mp4")
    done = cli("--smoke", "sync", "--json")
    assert done.code == 0, done.err
    assert done.json()["uploaded"] == 1 and supa.state.objects[key] == (data, "video/mp4")
    assert not any(e["method"] == "PATCH" and e["status"] == 409 for e in supa.state.log)


def test_a_jobs_inputs_go_to_the_private_reference_images_bucket(cli: Callable[..., Result], home: Path,
                                                                  supa: FakeSupabase, pg: postgres.Cluster,
                                                                  tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "in.png")
    mask = Image.new("L", (64, 64))
    mask.paste(255, (16, 16, 48, 48))
    mask.save(tmp_path / "mask.png")
    for seed in ("1", "2"):  # two jobs from the same picture: one object
        assert cli("--smoke", "generate", "sdxl_image_fast", "a boat", "--steps", "2", "--count", "1", "--seed", seed,
                   "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "--strength",
                   "0.6").code == 0
    assert cli("--smoke", "sync", "setup", "--json").code == 0
    assert supa.state.buckets["reference_images"]["public"] is False
    synced = cli("--smoke", "sync", "--json")
    assert synced.code == 0 and synced.json()["failed"] == 0, synced.err
    config = cli("jobs", "show", "1", "--json").json()["config"]["inputs"]
    want = {"image": f"reference_images/{OWNER}/{Path(config['image']).name}",
            "mask": f"reference_images/{OWNER}/{Path(config['mask']).name}"}
    for where, name in ((want["image"], config["image"]), (want["mask"], config["mask"])):
        data, mime = supa.state.objects[("reference_images", where.split("/", 1)[1])]
        assert data == (home / name).read_bytes() and mime == "image/png"
    assert supa.count("POST", "/storage/v1/object/reference_images/") == 2
    for row in rows(pg, "jobs"):
        assert row["metadata"]["reference_images"] == want and row["metadata"]["denoise_strength"] == 0.6
