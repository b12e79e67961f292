"""The reliable-queue protocol on a real redis-server, over both transports: FIFO claims into a
processing list, leases and fencing, reaping with attempt counts and the dead-letter list, items that
are not jobs, cancel. No worker processes here (see test_workers.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ourvidz_cli.app import App, Settings
from ourvidz_cli.queue import ClaimOrder, Worker
from ourvidz_cli.remote.items import parse_item
from ourvidz_cli.remote.redis_queue import RedisQueue
from ourvidz_cli.remote.results import Results
from ourvidz_cli.remote.transport import open_transport
from ourvidz_cli.remote.worker_queue import RemoteJobQueue, push_specs


def item(job_id: str, job_type: str = "sdxl_image_fast", **extra: object) -> str:
    return json.dumps({"id": job_id, "type": job_type, "prompt": f"prompt {job_id}", "config": {"steps": 2},
                       "created_at": "2026-11-26T10:00:00.000Z", "status": "queued", **extra})


@pytest.fixture
def rq(queue_url: str) -> RedisQueue:
    return RedisQueue(open_transport(queue_url))


@pytest.fixture
def app(home: Path) -> App:
    return App(Settings(home=home, smoke=True))


def remote_queue(rq: RedisQueue, app: App, worker: Worker) -> RemoteJobQueue:
    results = Results(rq, app.ledger, app.home, app.catalog, worker.id, None, "owner", lambda _: None)
    return RemoteJobQueue(rq, app.ledger.queue, app.catalog, ("sdxl_queue", "wan_queue"), results, lambda _: None)


def test_claims_are_fifo_into_the_workers_processing_list_with_a_lease(rq: RedisQueue) -> None:
    rq.push("sdxl_queue", [item("a")])
    rq.push("sdxl_queue", [item("b")])
    first = rq.claim("sdxl_queue", "w1", 30)
    second = rq.claim("sdxl_queue", "w2", 30)
    assert (first.job_id, first.state, second.job_id) == ("a", "ok", "b")
    assert rq.in_flight("w1") == [item("a")] and rq.in_flight("w2") == [item("b")]
    assert rq.holds("a", item("a"), first.holder, 30) and not rq.holds("a", item("a"), second.holder, 30)
    assert rq.claim("sdxl_queue", "w3", 30) is None


def test_a_worker_that_lost_its_lease_cannot_complete_and_completion_happens_once(rq: RedisQueue,
                                                                                  app: App) -> None:
    rq.push("sdxl_queue", [item("a")])
    rq.announce("w1", {}, ttl_s=0.3)
    w1 = rq.claim("sdxl_queue", "w1", 0.3)
    assert w1.state == "ok"
    time.sleep(0.5)  # w1 paused: its key and lease expire
    results = Results(rq, app.ledger, app.home, app.catalog, "w2", None, "owner", lambda _: None)
    assert results.reap() == [("a", "requeued")]
    w2 = rq.claim("sdxl_queue", "w2", 30)
    assert w2.job_id == "a"
    assert rq.renew("a", item("a"), w1.holder, 30) is None  # w1's heartbeat learns it lost the job
    assert not rq.commit("a", item("a"), w1.holder, "{}", 30)
    assert rq.requeue("sdxl_queue", item("a"), "a", w1.holder, True, 30) is None
    assert rq.commit("a", item("a"), w2.holder, '{"status":"completed"}', 30)
    assert not rq.commit("a", item("a"), w2.holder, "{}", 30)  # no second completion, not even by the holder
    rq.push("sdxl_queue", [item("a")])  # a duplicate delivery of a finished job is dropped at claim
    assert rq.claim("sdxl_queue", "w3", 30).state == "done" and rq.in_flight("w3") == []


def test_reaping_counts_attempts_then_files_the_job_as_dead(rq: RedisQueue, app: App) -> None:
    rq.push("wan_queue", [item("x", "video_fast", config={"max_attempts": 2})])
    results = Results(rq, app.ledger, app.home, app.catalog, "reaper", None, "owner", lambda _: None)
    outcomes = []
    for n in (1, 2):
        rq.announce(f"dies{n}", {}, ttl_s=0.2)
        assert rq.claim("wan_queue", f"dies{n}", 0.2).failed_attempts == n - 1
        time.sleep(0.35)
        outcomes += results.reap()
    assert outcomes == [("x", "requeued"), ("x", "dead")]
    status = rq.status()
    assert status["depth"] == {"sdxl_queue": 0, "wan_queue": 0} and status["workers"] == []
    [dead] = status["dead_letter"]["items"]
    assert dead["id"] == "x" and "gave up after 2 attempt(s)" in dead["reason"]
    assert json.loads(rq.done_body("x"))["status"] == "failed"


def test_items_that_are_not_jobs_go_to_the_dead_letter_list_and_the_worker_goes_on(rq: RedisQueue,
                                                                                  app: App) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", ["{not json", json.dumps([1, 2]), item("t", "no_such_type"), item("ok")])
    job = queue.claim(worker, 30, ClaimOrder())
    assert job is not None and job["uuid"] == "ok" and job["origin"].endswith("/sdxl_queue")
    reasons = {e["id"]: e["reason"] for e in rq.status()["dead_letter"]["items"]}
    assert "unknown job type 'no_such_type'" in reasons["t"]
    assert reasons[None].startswith("not a job") and len(reasons) == 2 and rq.status()["dead_letter"]["count"] == 3
    assert rq.in_flight(worker.id) == [item("ok")]


def test_seed_items_take_catalog_defaults_and_keep_unknown_fields(app: App) -> None:
    raw = json.dumps({"id": "s1", "type": "video_fast", "prompt": "a boat", "user_id": "u-1", "webhook": "x",
                      "config": {"sample_steps": 9, "seed": 7}})
    remote = parse_item(raw, app.catalog)
    jt = app.catalog.job_types["video_fast"]
    assert remote.spec.config.steps == 9 and remote.spec.config.seed == 7  # the older Wan worker's name
    assert remote.spec.config.guidance == jt.guidance
    assert remote.meta == {"webhook": "x", "fields": {"steps": "config.sample_steps", "seed": "config.seed"}}
    assert remote.user_id == "u-1"


def test_the_real_apps_field_names_and_the_older_workers_are_honoured(app: App) -> None:
    """Measured before: an item as the app sends it (25 steps, guidance 6.0, one 1024x576 image) ran with
    the catalog's 15 steps and six images at the catalog's size."""
    raw = json.dumps({"id": "app1", "type": "sdxl_image_fast", "prompt": "a boat", "negative_prompt": "blurry",
                      "config": {"num_inference_steps": 25, "guidance_scale": 6.0, "num_images": 1,
                                 "resolution": "96x64", "seed": 2}})
    cfg = parse_item(raw, app.catalog).spec.config
    assert (cfg.steps, cfg.guidance, cfg.count, cfg.width, cfg.height, cfg.negative) == (25, 6.0, 1, 96, 64, "blurry")
    older = json.dumps({"id": "old1", "type": "video_fast", "prompt": "a boat",
                        "config": {"sample_steps": 3, "sample_guide_scale": 4.5, "size": "48*80", "frame_num": 9}})
    remote = parse_item(older, app.catalog)
    cfg = remote.spec.config
    assert (cfg.steps, cfg.guidance, cfg.width, cfg.height, cfg.frames) == (3, 4.5, 48, 80, 9)
    assert remote.meta["fields"]["size"] == "config.size" and remote.meta["fields"]["frames"] == "config.frame_num"


def test_an_item_wrapped_in_a_one_element_array_runs(rq: RedisQueue, app: App) -> None:
    """The app's current queue-job pushes `["<payload JSON>"]` through Upstash's path form."""
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    rq.push("sdxl_queue", [json.dumps([item("w1")])])
    job = queue.claim(worker, 30, ClaimOrder())
    assert job is not None and job["uuid"] == "w1" and rq.has_lease("w1")
    assert "one-element JSON array" in (app.home / "logs" / f"{job['id']}.log").read_text()


def test_a_canceled_job_never_starts(rq: RedisQueue, app: App) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    ids = push_specs(rq, app.catalog, [app.resolve("sdxl_image_fast", "a cat", {"steps": 2})], None)
    assert rq.cancel(ids[0]) == "cancel requested"
    assert queue.claim(worker, 30, ClaimOrder()) is None
    assert json.loads(rq.done_body(ids[0]))["error_message"] == "canceled"
    assert rq.in_flight(worker.id) == [] and rq.cancel(ids[0]) == "already finished"


def test_routing_prefers_the_loaded_models_queue_until_the_other_head_waited_too_long(rq: RedisQueue,
                                                                                     app: App) -> None:
    worker = Worker()
    queue = remote_queue(rq, app, worker)
    specs = [app.resolve(t, "p", {"steps": 2}) for t in ("sdxl_image_fast", "video_fast")]
    push_specs(rq, app.catalog, specs, None)
    wan = app.catalog.models["wan"].source
    assert queue.claim(worker, 30, ClaimOrder(resident=(wan,), max_wait_s=600))["type"] == "video_fast"
    push_specs(rq, app.catalog, specs[1:], None)
    time.sleep(0.3)  # the SDXL head has now waited past a 0.2 s bound
    assert queue.claim(worker, 30, ClaimOrder(resident=(wan,), max_wait_s=0.2))["type"] == "sdxl_image_fast"


def test_models_option_picks_the_queues_a_machine_serves(app: App) -> None:
    from ourvidz_cli.errors import UsageError
    from ourvidz_cli.remote.worker_queue import served_queues

    assert served_queues(app.catalog, ["sdxl"]) == ("sdxl_queue",)
    assert served_queues(app.catalog, None) == ("sdxl_queue", "wan_queue")
    with pytest.raises(UsageError, match="qwen"):
        served_queues(app.catalog, ["sdxl", "qwen"])
