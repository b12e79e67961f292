"""Shared fixtures: real tiny models built once per session, a fresh data home per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from ourvidz_cli.smoke import init_smoke


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
    from ourvidz_cli.cli import main

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
