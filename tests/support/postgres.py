"""A private PostgreSQL cluster for the tests: Debian's server binaries, a data folder in tmp, a
random loopback port. Started once per test session, stopped at its end."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SEED_SCHEMA = """
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    job_type text NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    prompt text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE TABLE images (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    job_id uuid NOT NULL REFERENCES jobs (id),
    prompt text,
    image_urls jsonb,
    image_url text,
    status text NOT NULL,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE videos (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    job_id uuid NOT NULL REFERENCES jobs (id),
    video_url text,
    status text NOT NULL,
    duration numeric,
    format text,
    resolution text,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return path


def available() -> bool:
    try:
        _bin("initdb")
        return True
    except FileNotFoundError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root, self.data, self.port = root, root / "data", _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> None:
        # initdb and postgres refuse to run as root: drop to Debian's postgres user then.
        full = ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else list(cmd)
        subprocess.run(full, check=True, capture_output=True, text=True)

    def start(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o755)
            for parent in self.root.parents:  # postgres must be able to reach its folder
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o011)
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE seed")
        with psycopg.connect(self.dsn()) as conn:
            conn.execute(SEED_SCHEMA)
        return self

    def dsn(self, db: str = "seed") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db}"

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn()) as conn:
            conn.execute("TRUNCATE images, videos, jobs")

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
