"""Input a hostile or careless user hands in, refused at the door with exit 2 and one plain line (or,
for a BOM, accepted): job files, prompts, homes, output folders, a damaged ledger."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, jobs, spawn


def _refused(res: Result, message: str) -> None:
    assert res.code == 2, res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "unexpected" not in lines[0], res.err


JOB_FILES = {
    "csv comma in a prompt": ("jobs.csv", b"type,prompt\nimage_fast,a red car, parked\n", "jobs.csv:2: 3 fields"),
    "csv NUL byte": ("jobs.csv", b"type,prompt\nimage_fast,a red\x00car\n", "control characters (U+0000)"),
    "jsonl NUL escape": ("jobs.jsonl", b'{"type": "image_fast", "prompt": "a\\u0000b"}\n', "U+0000"),
    "jsonl prompt object": ("jobs.jsonl", b'{"type": "image_fast", "prompt": {"a": 1}}\n', "must be text, not dict"),
    "jsonl prompt list": ("jobs.jsonl", b'{"type": "image_fast", "prompt": ["a", "b"]}\n', "must be text, not list"),
}


@pytest.mark.parametrize("case", list(JOB_FILES))
def test_job_files_that_would_store_the_wrong_prompt_are_refused(home: Path, cli: Callable[..., Result],
                                                                 tmp_path: Path, case: str) -> None:
    name, data, message = JOB_FILES[case]
    (tmp_path / name).write_bytes(data)
    _refused(cli("--smoke", "queue", "add", "--file", str(tmp_path / name)), message)
    assert jobs(home) == []


def test_a_csv_with_a_byte_order_mark_is_read(home: Path, cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "excel.csv").write_bytes("\ufefftype,prompt\nimage_fast,\"a red car, parked\"\n".encode())
    assert cli("--smoke", "queue", "add", "--file", str(tmp_path / "excel.csv")).code == 0
    assert [j["prompt"] for j in jobs(home)] == ["a red car, parked"]


def test_a_prompt_that_is_not_utf8_is_refused(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", "queue", "add", "image_fast", b"caf\xe9"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "OURVIDZ_HOME": str(home)})
    assert proc.returncode == 2 and "not valid UTF-8" in proc.stderr and "unexpected" not in proc.stderr
    assert jobs(home) == []


def test_homes_and_output_folders_that_cannot_be_folders(home: Path, cli: Callable[..., Result], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    _refused(cli("--home", "", "queue", "list"), "--home is empty")
    _refused(cli("--home", str(a_file), "queue", "list"), "is a file, not a folder")
    _refused(cli("--home", str(a_file / "below"), "queue", "list"), "is a file, not a folder")
    monkeypatch.setenv("OURVIDZ_HOME", str(a_file))
    _refused(cli("queue", "list"), "OURVIDZ_HOME")
    monkeypatch.setenv("OURVIDZ_HOME", str(home))
    _refused(cli("assets", "export", "--to", str(a_file)), "--to")
    _refused(cli("gallery", "--out", str(a_file)), "--out")
    _refused(cli("gallery", "--out", "/proc/no-such-folder"), "/proc/no-such-folder: No such file or directory")


def _damage(home: Path, start: int) -> None:
    conn = sqlite3.connect(home / "ledger.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file, as after a clean exit
    conn.close()
    data = bytearray((home / "ledger.db").read_bytes())
    for i in range(start, len(data), 97):
        data[i] = 0xAB
    (home / "ledger.db").write_bytes(bytes(data))


@pytest.mark.parametrize(("where", "commands"), [
    (0, (["queue", "list"], ["queue", "add", "image_fast", "y"], ["jobs", "show", "1"], ["assets", "list"],
         ["queue", "run"])),  # the header too: not a database at all
    (4096 * 2, (["queue", "list"], ["jobs", "show", "1"], ["queue", "run"])),  # the pages these read
])
def test_a_damaged_ledger_is_named_on_every_command(home: Path, cli: Callable[..., Result], where: int,
                                                    commands: tuple[list[str], ...]) -> None:
    for i in range(3):
        cli("--smoke", "queue", "add", "image_fast", f"x {i}")
    _damage(home, where)
    for args in commands:
        res = cli("--smoke", *args)
        _refused(res, "is damaged")
        assert "0 completed" not in res.out


def test_a_ledger_path_that_is_a_directory_is_bad_input(home: Path, cli: Callable[..., Result]) -> None:
    (home / "ledger.db").mkdir()
    for args in (["queue", "list"], ["queue", "add", "image_fast", "x"]):
        _refused(cli("--smoke", *args), "is a directory")


def test_a_read_only_home_refuses_writes_as_bad_input_and_still_lists(tmp_path: Path) -> None:
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("mounting a read-only file system needs root")

    def run(*args: str) -> Result:  # a process of its own: an open ledger would keep the mount busy
        proc = spawn(mnt, *args)
        out, err = proc.communicate(timeout=120)
        return Result(proc.returncode, out, err)

    try:
        assert run("queue", "add", "image_fast", "before").code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        _refused(run("queue", "add", "image_fast", "after"), "cannot be written")
        listed = run("queue", "list", "--json")
        assert listed.code == 0 and [j["prompt"] for j in listed.json()] == ["before"]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_damaged_index_page_is_named_not_read_as_an_empty_queue(home: Path, cli: Callable[..., Result]) -> None:
    for i in range(12):
        cli("--smoke", "queue", "add", "image_fast", f"prompt {i} " + "x" * 600)
    path = home / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    [root] = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs_enhance_pending'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    for i in range(4096 * (root - 1) + 100, 4096 * root, 97):  # one index page; the table pages are sound
        data[i] = 0xAB
    path.write_bytes(bytes(data))
    for args in (["queue", "run"], ["worker", "--drain"]):
        res = cli("--smoke", *args)
        _refused(res, "is damaged")
        assert "completed" not in res.out
