"""The Upstash REST double answers as Upstash does (issue 25, finding 23): Upstash passes a real
redis-server's replies through its documented JSON mapping, so each expected answer below is Redis's own
reply in that mapping. And a worker runs an item pushed the way the real app pushes (the path form)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Result
from tests.remote.conftest import REST_TOKEN
from tests.support.redis_server import RedisServer, UpstashRest

AUTH = {"Authorization": f"Bearer {REST_TOKEN}"}


@pytest.fixture
def rest(redis_srv: RedisServer) -> Iterator[UpstashRest]:
    redis_srv.flush()
    server = UpstashRest(redis_srv.url, REST_TOKEN).start()
    yield server
    server.stop()


def _call(rest: UpstashRest, *command: str) -> httpx.Response:
    return httpx.post(rest.url + "/", json=list(command), headers=AUTH)


REPLIES = [
    (["PING"], 200, {"result": "PONG"}),
    (["SET", "k", "v"], 200, {"result": "OK"}),
    (["GET", "k"], 200, {"result": "v"}),
    (["GET", "missing"], 200, {"result": None}),
    (["EXPIRE", "k", "100"], 200, {"result": 1}),
    (["EXPIRE", "missing", "100"], 200, {"result": 0}),
    (["HSET", "h", "a", "1", "b", "2"], 200, {"result": 2}),
    (["HGETALL", "h"], 200, {"result": ["a", "1", "b", "2"]}),
    (["SADD", "s", "x"], 200, {"result": 1}),
    (["SMEMBERS", "s"], 200, {"result": ["x"]}),
    (["LPUSH", "q", "one", "two"], 200, {"result": 2}),
    (["RPOP", "q"], 200, {"result": "one"}),
    (["EXISTS", "k", "missing"], 200, {"result": 1}),
    (["EVAL", "return {1, 'a', false}", "0"], 200, {"result": [1, "a", None]}),
    (["INCR", "k"], 400, {"error": "ERR value is not an integer or out of range"}),
    (["NOSUCHCOMMAND"], 400, {"error": "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: "}),
    (["GET"], 400, {"error": "ERR wrong number of arguments for 'get' command"}),
]


def test_replies_are_redis_own_in_upstash_json(rest: UpstashRest) -> None:
    for command, status, body in REPLIES:
        res = _call(rest, *command)
        assert (res.status_code, res.json()) == (status, body), command


def test_path_forms_pipeline_multi_exec_and_token_parameter(rest: UpstashRest) -> None:
    item = json.dumps({"id": "a1", "type": "sdxl_image_fast", "prompt": "a boat"})
    pushed = httpx.post(f"{rest.url}/rpush/sdxl_queue", content=item, headers=AUTH)  # as the seed's app pushes
    assert pushed.json() == {"result": 1}
    assert httpx.get(f"{rest.url}/rpop/sdxl_queue", headers=AUTH).json() == {"result": item}
    assert httpx.get(f"{rest.url}/get/k?_token={REST_TOKEN}").json() == {"result": None}
    assert httpx.get(f"{rest.url}/get/k?_token=wrong").status_code == 401
    piped = httpx.post(f"{rest.url}/pipeline", json=[["SET", "a", "1"], ["GET", "a"], ["HGETALL", "a"]],
                       headers=AUTH)
    assert piped.status_code == 200 and piped.json() == [
        {"result": "OK"}, {"result": "1"},
        {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"}]
    multi = httpx.post(f"{rest.url}/multi-exec", json=[["SET", "b", "2"], ["INCR", "b"]], headers=AUTH)
    assert multi.json() == [{"result": "OK"}, {"result": 3}]


def test_binary_values_are_answered_and_base64_on_request(rest: UpstashRest, redis_srv: RedisServer) -> None:
    import redis

    redis.Redis.from_url(redis_srv.url).set("bin", b"\xff\x00\xfe")
    assert _call(rest, "GET", "bin").status_code == 200
    encoded = httpx.post(rest.url + "/", json=["GET", "bin"], headers={**AUTH, "Upstash-Encoding": "base64"})
    assert base64.b64decode(encoded.json()["result"]) == b"\xff\x00\xfe"


def test_a_worker_runs_an_item_pushed_as_the_real_app_pushes_it(cli: Callable[..., Result], rest: UpstashRest,
                                                               monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", REST_TOKEN)
    item = {"id": "app-1", "type": "sdxl_image_fast", "prompt": "a red boat", "user_id": None,
            "config": {"steps": 2, "count": 1, "seed": 4}, "created_at": "2026-12-01T10:00:00.000Z",
            "status": "queued"}
    assert httpx.post(f"{rest.url}/lpush/sdxl_queue", content=json.dumps(item), headers=AUTH).status_code == 200
    res = cli("--smoke", "worker", "--queue", rest.url, "--local-results", "--drain", "--poll", "0.1", "--json")
    assert res.code == 0, res.err
    assert res.json()["completed"] == 1
    done = httpx.get(f"{rest.url}/get/ourvidz:done:app-1", headers=AUTH).json()["result"]
    assert json.loads(done)["status"] == "completed"
