"""Shared fixtures: real tiny models built once per session, a fresh data home per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlite_utils

from ourvidz_cli.engine.models.smoke import init_smoke
from tests.support import postgres
from tests.support.supabase_server import FakeSupabase


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="session")
def smoke_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("smoke-base")
    init_smoke(base)
    return base / "smoke"


@pytest.fixture
def home(tmp_path: Path, smoke_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home whose smoke/ points at the session's tiny models (building them is the slow part)."""
    h = tmp_path / "home"
    h.mkdir()
    (h / "smoke").symlink_to(smoke_root, target_is_directory=True)
    monkeypatch.setenv("OURVIDZ_HOME", str(h))
    monkeypatch.delenv("OURVIDZ_CONFIG", raising=False)
    monkeypatch.delenv("OURVIDZ_LEASE_SECONDS", raising=False)
    return h


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path) -> Callable[..., Result]:
    """Run `ourvidz ARGS` in this process through the real entry point (exit code included)."""
    from ourvidz_cli.cli.main import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["ourvidz", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def db(home: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(home / "ledger.db")


def jobs(home: Path) -> list[dict[str, Any]]:
    path = home / "ledger.db"
    if not path.exists():
        return []
    return list(db(home).query("SELECT * FROM jobs ORDER BY id"))


def spawn(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """`ourvidz ARGS` as a separate process, as a second terminal or a cron job would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ourvidz_cli", *args],
        env={**os.environ, "OURVIDZ_HOME": str(home), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- the Supabase test server, its rows in a real PostgreSQL cluster -------------------------------

SECRET_KEY = "sb_secret_ourvidz_test_4c1d9f0e2b7a"
JWT_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLWZvci10ZXN0cw"
OWNER = "5f0c6f2e-1d7b-4c1a-9e43-0b2a4d8c7e11"


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres.Cluster]:
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's postgresql (.ci/run installs it)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = postgres.Cluster(tmp_path_factory.mktemp("pg") / "cluster").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def supa(pg: postgres.Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSupabase]:
    pg.reset()
    server = FakeSupabase(SECRET_KEY, pg.dsn()).start()
    monkeypatch.setenv("SUPABASE_URL", server.url)
    monkeypatch.setenv("SUPABASE_SERVICE_KEY", SECRET_KEY)
    monkeypatch.setenv("OURVIDZ_SUPABASE_USER_ID", OWNER)
    monkeypatch.setenv("OURVIDZ_SUPABASE_TIMEOUT", "2")
    monkeypatch.setenv("OURVIDZ_SUPABASE_BACKOFF", "0.01")
    yield server
    server.stop()


def rows(pg: postgres.Cluster, table: str) -> list[dict]:
    with psycopg.connect(pg.dsn()) as conn:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY created_at")
        names = [d.name for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
