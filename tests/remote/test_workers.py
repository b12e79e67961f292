"""Many machines for real: `ourvidz worker` processes, each with its own --home, on one redis-server,
with the Supabase test server (objects, rows and the job-callback). Workers are killed with SIGKILL
mid-job and paused past their lease with SIGSTOP; every job must still be completed exactly once."""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OWNER, Result, wait_for
from tests.remote.conftest import poison_catalog
from tests.support.redis_server import RedisServer
from tests.support.supabase_server import FakeSupabase

SECRET = "callback-hmac-secret"


class Machines:
    """Worker processes, each a 'machine' with its own data home; output goes to files (a long run
    would fill a pipe)."""

    def __init__(self, root: Path, catalog: Path, url: str) -> None:
        self.root, self.catalog, self.url = root, catalog, url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        home = self.root / name
        home.mkdir(exist_ok=True)
        log = open(home / "worker.log", "ab")  # noqa: SIM115  closed with the process
        env = {**os.environ, "OURVIDZ_HOME": str(home), "OURVIDZ_LEASE_SECONDS": "2",
               "OURVIDZ_CALLBACK_SECRET": SECRET}
        proc = subprocess.Popen([sys.executable, "-m", "ourvidz_cli", "--config", str(self.catalog), "worker",
                                 "--queue", self.url, "--poll", "0.1", *extra], env=env, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.root / name / "worker.log").read_text(errors="replace")

    def running_here(self, name: str) -> bool:
        """This machine's ledger holds a job it is generating (not yet completed, so not committed)."""
        path = self.root / name / "ledger.db"
        if not path.exists():
            return False
        try:
            with sqlite3.connect(path, timeout=5) as conn:
                return conn.execute("SELECT count(*) FROM jobs WHERE status = 'running' AND worker_pid = ?",
                                    [self.procs[name].pid]).fetchone()[0] > 0
        except sqlite3.OperationalError:  # the ledger is being created
            return False

    def stop_all(self) -> dict[str, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return {name: proc.wait(timeout=60) for name, proc in self.procs.items()}


@pytest.fixture
def machines(tmp_path: Path, smoke_root: Path, queue_url: str, supa: FakeSupabase,
             cli: Callable[..., Result]) -> Iterator[Machines]:
    """Both transports: redis-py, and Upstash's REST API (the adapter in front of the same server)."""
    catalog = poison_catalog(tmp_path / "catalog", smoke_root)
    assert cli("--config", str(catalog), "sync", "setup", "--json").code == 0
    supa.state.callback_secret = SECRET
    m = Machines(tmp_path, catalog, queue_url)
    yield m
    for proc in m.procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def callbacks(supa: FakeSupabase) -> dict[str, list[dict[str, Any]]]:
    by_job: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for cb in list(supa.state.callbacks):
        by_job[cb["body"]["job_id"]].append(cb["body"])
    return by_job


def uploads_per_object(supa: FakeSupabase) -> collections.Counter[str]:
    return collections.Counter(e["path"] for e in supa.state.log if e["method"] == "POST"
                               and e["path"].startswith("/storage/v1/object/") and "/sign/" not in e["path"]
                               and isinstance(e["status"], int) and e["status"] < 300)


def busy(redis_srv: RedisServer, pid: int) -> bool:
    r = redis_srv.client()
    return any(w.split(":")[1] == str(pid) and r.llen(f"ourvidz:processing:{w}")
               for w in r.smembers("ourvidz:workers"))


def test_three_machines_sixty_jobs_two_kills_each_job_completed_exactly_once(
        machines: Machines, redis_srv: RedisServer, supa: FakeSupabase, tmp_path: Path,
        cli: Callable[..., Result]) -> None:
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"type": "sdxl_image_fast", "prompt": f"still {i}", "steps": 2, "count": 2} for i in range(30)]
    lines += [{"type": "video_fast", "prompt": f"clip {i}", "steps": 2} for i in range(30)]
    jobs.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    cat = str(machines.catalog)
    added = cli("--config", cat, "queue", "add", "--file", str(jobs), "--queue", machines.url, "--json")
    poison = cli("--config", cat, "queue", "add", "poison_image", "never works", "--queue", machines.url, "--json")
    good, [bad] = added.json()["job_ids"], poison.json()["job_ids"]
    redis_srv.client().lpush("wan_queue", '{"this is": "not a job"')
    assert len(set(good)) == 60

    for name in ("m1", "m2", "m3"):
        machines.start(name)
    for _ in range(2):  # m1 dies mid-job, twice, and comes back each time
        wait_for(lambda: busy(redis_srv, machines.procs["m1"].pid) and machines.running_here("m1"),
                 timeout=120, what="m1 to be running a job")
        machines.procs["m1"].kill()
        machines.procs["m1"].wait()
        machines.start("m1")

    def all_reported() -> bool:
        seen = callbacks(supa)
        return all(j in seen for j in good) and bad in seen

    wait_for(all_reported, timeout=400, what="a callback for every job")
    codes = machines.stop_all()
    assert all(code == 130 for code in codes.values()), codes

    seen = callbacks(supa)
    assert set(seen) == {*good, bad}
    assert all(len(seen[j]) == 1 and seen[j][0]["status"] == "completed" for j in good)
    assert [cb["status"] for cb in seen[bad]] == ["failed"] and "3 of 3" in seen[bad][0]["error_message"]
    assert sum(seen[j][0]["metadata"]["attempts"] - 1 for j in good) == 2  # one extra attempt per kill
    assert all(len(seen[j][0]["imageUrls"]) == 2 for j in good[:30])
    assert all(seen[j][0]["outputUrl"].endswith(".mp4") for j in good[30:])
    per_object = uploads_per_object(supa)
    assert len(per_object) == 30 * 2 + 30 and set(per_object.values()) == {1}
    assert {cb["raw"] for cb in supa.state.callbacks} and supa.state.callback_secret == SECRET

    status = cli("queue", "status", "--queue", machines.url, "--json").json()
    assert status["depth"] == {"sdxl_queue": 0, "wan_queue": 0}
    dead = {e["id"]: e["reason"] for e in status["dead_letter"]["items"]}
    assert set(dead) == {bad, None} and "not JSON" in dead[None]
    done_here = sum(sqlite3.connect(tmp_path / m / "ledger.db").execute(
        "SELECT count(*) FROM jobs WHERE status = 'completed'").fetchone()[0] for m in ("m1", "m2", "m3"))
    assert done_here == 60


def test_a_worker_paused_past_its_lease_drops_its_result(machines: Machines, redis_srv: RedisServer,
                                                        supa: FakeSupabase, cli: Callable[..., Result]) -> None:
    cat = str(machines.catalog)
    [job] = cli("--config", cat, "queue", "add", "sdxl_image_fast", "paused", "--steps", "30", "--queue",
                machines.url, "--json").json()["job_ids"]
    slow = machines.start("slow", "--max-jobs", "1")
    wait_for(lambda: machines.running_here("slow"), timeout=120, what="the job to start")
    slow.send_signal(signal.SIGSTOP)
    fast = machines.start("fast", "--max-jobs", "1")
    assert fast.wait(timeout=120) == 0  # took the job over once the paused worker's lease expired
    assert [cb["status"] for cb in callbacks(supa)[job]] == ["completed"]
    slow.send_signal(signal.SIGCONT)
    assert slow.wait(timeout=60) == 0
    assert "result is dropped" in machines.log("slow") or "another worker" in machines.log("slow")
    assert [cb["status"] for cb in callbacks(supa)[job]] == ["completed"]
    with sqlite3.connect(machines.root / "slow" / "ledger.db") as conn:  # one machine lists it as done, not two
        assert conn.execute("SELECT count(*) FROM jobs WHERE status = 'completed'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM assets").fetchone()[0] == 0
    assert not list((machines.root / "slow" / "outputs").rglob("*.png"))
    assert set(uploads_per_object(supa).values()) == {1} and len(uploads_per_object(supa)) == 6
    assert callbacks(supa)[job][0]["metadata"]["attempts"] == 2
    assert OWNER in callbacks(supa)[job][0]["imageUrls"][0]


def test_sigterm_hands_the_job_in_progress_back_to_the_head_of_its_queue(machines: Machines, redis_srv: RedisServer,
                                                                         cli: Callable[..., Result]) -> None:
    cat = str(machines.catalog)
    [job] = cli("--config", cat, "queue", "add", "sdxl_image_fast", "interrupted", "--steps", "40", "--queue",
                machines.url, "--json").json()["job_ids"]
    [later] = cli("--config", cat, "queue", "add", "sdxl_image_fast", "later", "--queue", machines.url,
                  "--json").json()["job_ids"]
    proc = machines.start("m1", "--local-results")
    wait_for(lambda: machines.running_here("m1"), timeout=120, what="the job to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    r = redis_srv.client()
    assert [json.loads(x)["id"] for x in r.lrange("sdxl_queue", 0, -1)] == [later, job]  # head is the right end
    assert r.hget("ourvidz:attempts", job) is None  # an interrupt is not the job's fault


def test_a_worker_without_supabase_settings_refuses_to_strand_results(cli: Callable[..., Result],
                                                                      redis_srv: RedisServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    res = cli("--smoke", "worker", "--queue", redis_srv.url, "--drain")
    assert res.code == 2 and res.err.count("\n") == 1 and "--local-results" in res.err
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "wrong")
    res = cli("--smoke", "worker", "--queue", "http://127.0.0.1:9/", "--local-results")
    assert res.code != 0 and "Traceback" not in res.err and "wrong" not in res.err
