"""A real redis-server per session (flushed per test), reached through either transport: redis-py, or
Upstash's REST API through the adapter in tests/support."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis_server import RedisServer, UpstashRest, available

REST_TOKEN = "upstash_test_token_7f3a9c"


@pytest.fixture(scope="session")
def redis_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's redis-server (.ci/run installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "upstash"])
def queue_url(request: pytest.FixtureRequest, redis_srv: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The same scenarios over both transports."""
    redis_srv.flush()
    if request.param == "redis":
        yield redis_srv.url
        return
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", REST_TOKEN)
    rest = UpstashRest(redis_srv.url, REST_TOKEN).start()
    yield rest.url
    rest.stop()


def poison_catalog(folder: Path, smoke_root: Path) -> Path:
    """The smoke catalog plus `poison_image`, whose model's files are broken on every machine: a job
    that fails on every attempt, wherever it runs."""
    text = (smoke_root / "models.toml").read_text()
    for name in ("sdxl", "wan", "qwen"):
        text = text.replace(f'path = "models/{name}"', f'path = "{smoke_root}/models/{name}"')
    broken = folder / "broken-model"
    broken.mkdir(parents=True, exist_ok=True)
    (broken / "model_index.json").write_text("{ this is not json")
    text += f"""
[models.broken]
kind = "sdxl"
path = "{broken}"
dtype = "float32"
repo = false
vae = false

[job_types.poison_image]
model = "broken"
steps = 2
size = "64x64"
count = 1
output = "png"
guidance = 5.0
priority = 1
negative = ""
bucket = "sdxl_image_fast"
"""
    path = folder / "catalog.toml"
    path.write_text(text)
    return path
