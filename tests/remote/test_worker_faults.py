"""Issue 25's findings on a whole worker: a slow upload outlives the lease, an output the bucket refuses,
and redis-server restarted under idle and busy workers (with and without persistence)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Result, wait_for
from tests.remote.test_workers import callbacks
from tests.support.redis_server import RedisServer, available
from tests.support.supabase_server import FakeSupabase


def test_a_slow_upload_keeps_the_lease_until_the_commit(cli: Callable[..., Result], queue_url: str,
                                                        supa: FakeSupabase, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("--smoke", "sync", "setup", "--json").code == 0
    monkeypatch.setenv("OURVIDZ_LEASE_SECONDS", "1")
    monkeypatch.setenv("OURVIDZ_SUPABASE_TIMEOUT", "10")
    supa.state.stall_s = 3.0  # three leases
    supa.fault("POST", r"^/storage/v1/object/sdxl_image_fast/", "delay")
    [job] = cli("--smoke", "queue", "add", "sdxl_image_fast", "slow upload", "--steps", "2", "--count", "1",
                "--queue", queue_url, "--json").json()["job_ids"]
    worker = cli("--smoke", "worker", "--queue", queue_url, "--drain", "--poll", "0.1")
    assert worker.code == 0, worker.err
    assert any(e["status"] == "fault:delay" for e in supa.state.log)
    [cb] = callbacks(supa)[job]
    assert cb["status"] == "completed" and len(cb["imageUrls"]) == 1, worker.err


def test_outputs_the_bucket_refuses_fail_the_job_to_the_backend(cli: Callable[..., Result], queue_url: str,
                                                               supa: FakeSupabase) -> None:
    supa.add_bucket("sdxl_image_fast", limit=100)  # made elsewhere, far smaller than any PNG
    assert cli("--smoke", "sync", "setup", "--json").code == 0
    [job] = cli("--smoke", "queue", "add", "sdxl_image_fast", "too big", "--steps", "2", "--count", "1",
                "--queue", queue_url, "--json").json()["job_ids"]
    cli("--smoke", "worker", "--queue", queue_url, "--drain", "--poll", "0.1")
    [cb] = callbacks(supa)[job]
    assert cb["status"] == "failed" and "cannot be delivered" in cb["error_message"]
    assert not cb.get("imageUrls") and not cb.get("outputUrl")
    status = cli("--smoke", "queue", "status", "--queue", queue_url, "--json").json()
    assert status["dead_letter"]["items"][0]["id"] == job


# -- redis-server restarted under the workers ------------------------------------------------------

@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (it is restarted), with an append-only file."""
    if not available():
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


def start_worker(home: Path, url: str, *extra: str, **env: str) -> subprocess.Popen[bytes]:
    home.mkdir(exist_ok=True)
    log = open(home / "worker.log", "ab")  # noqa: SIM115  closed with the process
    return subprocess.Popen([sys.executable, "-m", "ourvidz_cli", "--smoke", "worker", "--queue", url, "--poll", "0.1",
                             "--local-results", *extra],
                            env={**os.environ, "OURVIDZ_HOME": str(home), "OURVIDZ_LEASE_SECONDS": "2", **env},
                            stdout=log, stderr=log)


def push(server: RedisServer, job_id: str) -> None:
    server.client().lpush("sdxl_queue", json.dumps({"id": job_id, "type": "sdxl_image_fast", "prompt": job_id,
                                                    "config": {"steps": 2, "count": 1, "seed": 1}}))


def done(server: RedisServer, job_id: str) -> dict | None:
    try:
        body = server.client().get(f"ourvidz:done:{job_id}")
    except Exception:  # noqa: BLE001  down or loading
        return None
    return json.loads(body) if body else None


def running(home: Path) -> bool:
    try:
        with sqlite3.connect(home / "ledger.db", timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM jobs WHERE status = 'running'").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False


def test_workers_ride_out_a_redis_restart_idle_or_busy(own_redis: RedisServer, tmp_path: Path, home: Path,
                                                        smoke_root: Path) -> None:
    for name in ("idle", "busy"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "smoke").symlink_to(smoke_root, target_is_directory=True)
    idle = start_worker(tmp_path / "idle", own_redis.url, "--models", "wan")
    busy = start_worker(tmp_path / "busy", own_redis.url, OURVIDZ_FAULT_SLOW_WRITE="4")
    try:
        wait_for(lambda: len(own_redis.client().smembers("ourvidz:workers")) == 2, 60, "both workers")
        push(own_redis, "j1")
        wait_for(lambda: running(tmp_path / "busy"), 60, "the job to start")
        own_redis.restart(down_s=3.0)  # longer than the 2 s lease, while the job renders or writes
        body = wait_for(lambda: done(own_redis, "j1"), 90, "the job to be committed")
        assert body["status"] == "completed" and body["metadata"]["attempts"] == 1
        assert own_redis.client().hlen("ourvidz:attempts") == 0
        own_redis.persist = False
        own_redis.restart(down_s=0.5)  # and a restart that forgets everything
        push(own_redis, "j2")
        assert wait_for(lambda: done(own_redis, "j2"), 90, "a job after the restart")["status"] == "completed"
        assert idle.poll() is None and busy.poll() is None  # nobody exited
        log = (tmp_path / "busy" / "worker.log").read_text()
        assert "retrying for ever" in log and "is back after" in log
        with sqlite3.connect(tmp_path / "busy" / "ledger.db") as conn:
            assert conn.execute("SELECT status, attempts FROM jobs WHERE uuid = 'j1'").fetchone() == ("completed", 1)
    finally:
        for proc in (idle, busy):
            proc.send_signal(signal.SIGTERM)
        for proc in (idle, busy):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
