"""A full disk and a read-only one, for real: a 3 MB tmpfs mounted for the test (this needs root, as CI
and the dev machine have; elsewhere the tests say why they skip). Outputs are all or none, the error
says how much is free and where, read-only commands keep answering, and `assets delete` frees space."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import jobs


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 3 MB tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ourvidz_cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OURVIDZ_HOME": str(home)})


def _fill(mount: Path, leave_kb: int) -> Path:
    filler = mount / f"filler-{leave_kb}"
    free_kb = shutil.disk_usage(mount).free // 1024
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free_kb - leave_kb) * 1024)
    return filler


def _one_line(proc: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert proc.returncode == code, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert message in last and "unexpected" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_full_disk_loses_nothing_and_the_tool_can_free_its_own_space(tiny_disk: Path, smoke_root: Path) -> None:
    home = tiny_disk / "home"
    home.mkdir()
    (home / "smoke").symlink_to(smoke_root, target_is_directory=True)
    assert _run(home, "--smoke", "generate", "sdxl_image_fast", "kept", "--count", "1", "--steps", "1").returncode == 0
    queued = _run(home, "--smoke", "queue", "add", "sdxl_image_fast", "six", "--count", "6", "--steps", "1")
    assert queued.returncode == 0
    filler = _fill(tiny_disk, 48)  # the claim may still fit; six PNGs do not
    ran = _run(home, "queue", "run")
    _one_line(ran, 1, "disk full: ")
    assert " MB free in " in ran.stderr
    job = jobs(home)[1]
    assert job["status"] != "completed"
    assert sorted(p.name for p in (home / "outputs" / "sdxl_image_fast").iterdir()) == ["1_0.png"]  # all or none

    _fill(tiny_disk, 0)  # not a byte left: reading still works, writing says why
    for args in (["queue", "list"], ["jobs", "show", "1"], ["assets", "list", "--json"], ["stats"]):
        assert _run(home, *args).returncode == 0, args
    _one_line(_run(home, "queue", "add", "image_fast", "more"), 1, "disk full: ")
    assert "move it aside" not in _run(home, "queue", "add", "image_fast", "more").stderr
    deleted = _run(home, "assets", "delete", "1", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert not (home / "outputs" / "sdxl_image_fast" / "1_0.png").exists()
    assert _run(home, "assets", "list", "--json").stdout.strip() == "[]"

    for left in tiny_disk.glob("filler-*"):
        left.unlink()
    assert not filler.exists()
    again = _run(home, "queue", "run", "--json")
    assert again.returncode == 0, again.stderr
    assert jobs(home)[1]["status"] == "completed"
    assert len(list((home / "outputs" / "sdxl_image_fast").glob("2_*.png"))) == 6


def test_a_read_only_home_is_a_plain_usage_error(tiny_disk: Path) -> None:
    home = tiny_disk / "home"
    home.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    _one_line(_run(home, "--smoke", "job-types"), 2, "cannot write")
