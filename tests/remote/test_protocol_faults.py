"""Issue 25's findings on the queue protocol, on a real redis-server over both transports: replies lost
after a step ran (retried steps act once), ids Lua and Python read alike, an id used again for other
content, bookkeeping left by dead letters, results fenced out, and leases that lapsed unreaped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ourvidz_cli.app import App, Settings
from ourvidz_cli.engine.jobs.report import Outcome
from ourvidz_cli.queue import COMPLETED, QUEUED, ClaimOrder, Worker
from ourvidz_cli.remote.outage import PatientTransport
from ourvidz_cli.remote.redis_queue import RedisQueue
from ourvidz_cli.remote.results import Results
from ourvidz_cli.remote.transport import open_transport
from ourvidz_cli.remote.worker_queue import RemoteJobQueue
from tests.remote.conftest import REST_TOKEN
from tests.support.redis_server import RedisServer, ReplyDropper, UpstashRest


def item(job_id: object, job_type: str = "sdxl_image_fast", prompt: str | None = None, **extra: object) -> str:
    return json.dumps({"id": job_id, "type": job_type, "prompt": prompt or f"prompt {job_id}",
                       "config": {"steps": 2}, "created_at": "2026-11-26T10:00:00.000Z", "status": "queued",
                       **extra})


@pytest.fixture
def app(home: Path) -> App:
    return App(Settings(home=home, smoke=True))


@pytest.fixture
def rq(queue_url: str) -> RedisQueue:
    return RedisQueue(open_transport(queue_url))


def remote_queue(rq: RedisQueue, app: App, worker: Worker) -> RemoteJobQueue:
    results = Results(rq, app.ledger, app.home, app.catalog, worker.id, None, "owner", lambda _: None)
    return RemoteJobQueue(rq, app.ledger.queue, app.catalog, ("sdxl_queue", "wan_queue"), results, lambda _: None)


class Lossy:
    """A server whose next `lose(n)` EVAL replies are lost after it ran them; `queue()` reaches it as a
    worker does (the worker's transport sends a call again when its reply is lost: see remote.outage)."""

    def __init__(self, url: str, drop: ReplyDropper | UpstashRest) -> None:
        self.url, self.drop = url, drop

    def queue(self) -> RedisQueue:
        return RedisQueue(PatientTransport(open_transport(self.url), 30, lambda _: None))

    def lose(self, n: int = 1) -> None:
        if isinstance(self.drop, ReplyDropper):
            self.drop.armed = n
        else:
            self.drop.server.lose_replies = n

    def lost(self) -> int:
        return self.drop.dropped if isinstance(self.drop, ReplyDropper) else 1 - self.drop.server.lose_replies


@pytest.fixture(params=["redis", "upstash"])
def lossy(request: pytest.FixtureRequest, redis_srv: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lossy]:
    redis_srv.flush()
    if request.param == "redis":
        proxy = ReplyDropper(redis_srv.port)
        yield Lossy(proxy.url, proxy)
        proxy.close()
        return
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", REST_TOKEN)
    rest = UpstashRest(redis_srv.url, REST_TOKEN).start()
    yield Lossy(rest.url, rest)
    rest.stop()


def test_a_claim_whose_reply_was_lost_moves_one_item_not_two(lossy: Lossy) -> None:
    rq = lossy.queue()
    rq.push("sdxl_queue", [item("a")])
    rq.push("sdxl_queue", [item("b")])
    lossy.lose()
    claimed = rq.claim("sdxl_queue", "w1", 30)  # the transport sends it again; the server answers once
    assert lossy.lost() == 1
    assert claimed is not None and claimed.job_id == "a"
    assert rq.in_flight("w1") == [item("a")] and rq.t.execute("LLEN", "sdxl_queue") == 1


def test_a_commit_and_a_give_up_whose_replies_were_lost_still_succeed(lossy: Lossy) -> None:
    rq = lossy.queue()
    rq.push("sdxl_queue", [item("a"), item("b")])
    a, b = rq.claim("sdxl_queue", "w1", 30), rq.claim("sdxl_queue", "w1", 30)
    lossy.lose()
    assert rq.commit(a.job_id, a.raw, a.holder, '{"status":"completed"}', 30)
    lossy.lose()
    assert rq.give_up(b.job_id, b.raw, b.holder, '{"status":"failed"}', json.dumps({"id": "b"}), 30)
    assert rq.t.execute("LLEN", rq.key("dead")) == 1  # filed once
    assert not rq.commit(a.job_id, a.raw, a.holder, "{}", 30)  # a new commit still ends nothing twice


@pytest.mark.parametrize(("raw_id", "as_key"), [(10**14, "100000000000000"), (2**53 - 1, str(2**53 - 1)),
                                               (42.0, "42")])
def test_numeric_ids_name_one_lease_in_lua_and_python(rq: RedisQueue, app: App, raw_id: object,
                                                     as_key: str) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [item(raw_id)])
    job = queue.claim(worker, 30, ClaimOrder())
    assert job is not None and job["uuid"] == as_key
    assert rq.t.execute("GET", rq.key("lease", as_key)).startswith(worker.id + "#")
    assert queue.complete(job["id"], worker, [], generate_s=0.1)  # not 'taken over by another worker'


@pytest.mark.parametrize("raw_id", [2**53 + 1, 1.5, -3, True])
def test_ids_no_rule_can_read_are_dead_lettered_not_stuck(rq: RedisQueue, app: App, raw_id: object) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [item(raw_id)])
    assert queue.claim(worker, 30, ClaimOrder()) is None
    assert rq.in_flight(worker.id) == [] and rq.status()["dead_letter"]["count"] == 1
    assert rq.t.execute("KEYS", rq.key("lease", "*")) == []


def test_an_id_used_again_for_another_job_never_runs_the_old_one(rq: RedisQueue, app: App) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [item("42", prompt="a red boat")])
    first = queue.claim(worker, 30, ClaimOrder())
    assert first["prompt"] == "a red boat"
    queue.after_job(Outcome(first["id"], "sdxl_image_fast", "failed", error="boom"))
    rq.t.execute("FLUSHALL")  # that job's Redis keys are long gone (its done key expired)
    rq.push("wan_queue", [item("42", "video_fast", prompt="a storm")])
    assert queue.claim(worker, 30, ClaimOrder()) is None
    [dead] = rq.status()["dead_letter"]["items"]
    assert dead["id"] == "42" and "already names another job" in dead["reason"]
    row = app.ledger.jobs.get(first["id"])
    assert (row["type"], row["prompt"]) == ("sdxl_image_fast", "a red boat")
    rq.t.execute("FLUSHALL")
    rq.push("sdxl_queue", [item("42", prompt="a red boat")])  # the same job again is another attempt at it
    again = queue.claim(worker, 30, ClaimOrder())
    assert again is not None and again["id"] == first["id"]


def test_dead_letters_leave_no_attempts_or_origin_behind(rq: RedisQueue, app: App) -> None:
    results = Results(rq, app.ledger, app.home, app.catalog, "reaper", None, "owner", lambda _: None)
    rq.push("wan_queue", [item("x", "video_fast", config={"max_attempts": 2})])
    for n in (1, 2):
        rq.announce(f"dies{n}", {}, ttl_s=0.2)
        rq.claim("wan_queue", f"dies{n}", 0.2)
        time.sleep(0.35)
        results.reap()
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [item("y", config={"max_attempts": 1})])
    job = queue.claim(worker, 30, ClaimOrder())
    queue.after_job(Outcome(job["id"], "sdxl_image_fast", "failed", error="boom"))
    assert rq.status()["dead_letter"]["count"] == 2
    assert rq.t.execute("HLEN", rq.key("origin")) == 0 and rq.t.execute("HLEN", rq.key("attempts")) == 0
    rq.t.execute("DEL", rq.key("done", "x"))  # a week later the id comes back
    rq.push("wan_queue", [item("x", "video_fast", config={"max_attempts": 2})])
    assert rq.claim("wan_queue", "w9", 30).failed_attempts == 0


def test_a_result_fenced_out_is_not_left_completed_on_this_machine(rq: RedisQueue, app: App) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [item("f")])
    job = queue.claim(worker, 30, ClaimOrder())
    out = app.home / "outputs" / "sdxl_image_fast" / f"{job['id']}_0.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"png")
    asset = {"idx": 0, "bucket": "sdxl_image_fast", "path": str(out.relative_to(app.home)), "kind": "image", "bytes": 3,
             "sha256": "0" * 64, "width": 64, "height": 64}
    assert queue.complete(job["id"], worker, [asset], generate_s=0.1)
    # Paused past its lease: another worker reaped the item and holds the job now.
    rq.t.execute("LREM", rq.key("processing", worker.id), 1, item("f"))
    rq.t.execute("SET", rq.key("lease", "f"), "other-worker")
    queue.after_job(Outcome(job["id"], "sdxl_image_fast", COMPLETED))
    row = app.ledger.jobs.get(job["id"])
    assert row["status"] == QUEUED and "dropped" in row["error"]
    assert app.ledger.assets.for_job(job["id"]) == [] and not out.exists()
    assert rq.done_body("f") is None


def test_the_holder_takes_a_lapsed_lease_again_while_nobody_reaped_the_item(rq: RedisQueue) -> None:
    rq.announce("w1", {"jobs": ["a"]}, ttl_s=30)
    rq.push("sdxl_queue", [item("a")])
    mine = rq.claim("sdxl_queue", "w1", 0.2)
    time.sleep(0.35)  # Redis was unreachable for longer than the lease
    assert not rq.has_lease("a")
    assert rq.renew("a", item("a"), mine.holder, 30) is False  # ours again, no cancel asked
    assert rq.commit("a", item("a"), mine.holder, '{"status":"completed"}', 30)


def test_an_earlier_attempt_of_the_same_worker_is_fenced_out_by_its_newer_claim(rq: RedisQueue) -> None:
    rq.push("sdxl_queue", [item("a")])
    old = rq.claim("sdxl_queue", "w1", 0.2)
    time.sleep(0.35)
    rq.reap_item("w1", item("a"), "a", "sdxl_queue", 3, "{}", "{}", orphan=True)  # another reaper put it back
    new = rq.claim("sdxl_queue", "w1", 30)  # and this worker took it again
    assert new.holder != old.holder
    assert rq.renew("a", item("a"), old.holder, 30) is None
    assert not rq.commit("a", item("a"), old.holder, "{}", 30)
    assert rq.commit("a", item("a"), new.holder, "{}", 30)


def test_an_item_no_lease_names_is_put_back_even_from_a_live_workers_list(rq: RedisQueue, app: App) -> None:
    rq.announce("w1", {"jobs": []}, ttl_s=30)  # alive, but no longer runs it (its job stopped)
    rq.push("sdxl_queue", [item("a")])
    rq.claim("sdxl_queue", "w1", 1.0)
    results = Results(rq, app.ledger, app.home, app.catalog, "w2", None, "owner", lambda _: None)
    assert results.reap() == []  # leased: left alone
    time.sleep(1.2)
    assert results.reap() == [("a", "requeued")]
    assert rq.in_flight("w1") == [] and rq.claim("sdxl_queue", "w2", 30).failed_attempts == 1
    rq.announce("w3", {"jobs": []}, ttl_s=30)
    rq.push("sdxl_queue", [item("b")])
    rq.claim("sdxl_queue", "w3", 1.0)  # w3 announced no job: its own reaper decides by what it runs now
    time.sleep(1.2)
    mine = Results(rq, app.ledger, app.home, app.catalog, "w3", None, "owner", lambda _: None)
    assert mine.reap(frozenset({"b"})) == []  # its own holder, still running it: it takes the lease again
    assert mine.reap() == [("b", "requeued")]  # its own holder, no longer running it
