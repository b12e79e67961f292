"""Findings of the review and the hostile-user run (issue 11), each with a test that failed before its fix."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, jobs


def test_cancel_racing_a_claim_reports_what_really_happened(home: Path, cli: Callable[..., Result]) -> None:
    """A runner claims the job between cancel's read and its write: the answer must not be 'canceled'."""
    from ourvidz_cli.ledger import Ledger

    assert cli("--smoke", "queue", "add", "image_fast", "x").code == 0
    runner = sqlite3.connect(home / "ledger.db", isolation_level=None, timeout=30)
    runner.execute("BEGIN IMMEDIATE")
    runner.execute("UPDATE jobs SET status = 'running', worker = 'elsewhere' WHERE id = 1")
    answer: dict[str, str] = {}
    canceler = threading.Thread(target=lambda: answer.setdefault("r", Ledger(home / "ledger.db").queue.cancel(1)))
    canceler.start()
    time.sleep(0.5)  # cancel has started and waits for the write lock the claim holds
    runner.execute("COMMIT")
    canceler.join(timeout=30)
    assert answer["r"] == "cancel requested"
    job = jobs(home)[0]
    assert job["status"] == "running" and job["cancel_requested"] == 1


def test_starting_a_runner_keeps_live_writers_partial_files(home: Path, cli: Callable[..., Result]) -> None:
    from ourvidz_cli.library.outputs import TEMP_PREFIX

    folder = home / "outputs" / "image_fast"
    folder.mkdir(parents=True)
    live = folder / f"{TEMP_PREFIX}{os.getpid()}-7_0.png"  # this process: alive, writing
    dead = folder / f"{TEMP_PREFIX}999999999-8_0.png"  # no such process
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert cli("--smoke", "queue", "run").code == 0
    assert live.exists() and not dead.exists()


def test_a_mistyped_device_is_a_usage_error_before_any_job(home: Path, cli: Callable[..., Result]) -> None:
    assert cli("--smoke", "queue", "add", "image_fast", "x").code == 0
    bad = cli("--smoke", "queue", "run", "--device", "gpu")
    assert bad.code == 2 and "--device 'gpu'" in bad.err and "Traceback" not in bad.err
    assert [j["status"] for j in jobs(home)] == ["queued"]
    assert cli("--smoke", "generate", "image_fast", "y", "--device", "bogus").code == 2
    assert cli("--smoke", "generate", "image_fast", "y", "--device", "cuda:x").code == 2
    assert len(jobs(home)) == 1


def test_frames_on_an_image_type_is_refused_at_queue_time(home: Path, cli: Callable[..., Result]) -> None:
    bad = cli("--smoke", "queue", "add", "image_fast", "x", "--frames", "5")
    assert bad.code == 2 and "does not apply to image_fast" in bad.err
    assert jobs(home) == []
    assert cli("--smoke", "queue", "add", "image_fast", "x", "--frames", "1").code == 0


def test_a_catalog_name_cannot_leave_the_home(home: Path, cli: Callable[..., Result], tmp_path: Path) -> None:
    catalog = tmp_path / "evil.toml"
    catalog.write_text('base = "default"\n[buckets."../../x"]\nmax_mb = 1\n')
    bad = cli("--config", str(catalog), "job-types")
    assert bad.code == 2 and "must be 1-64 letters" in bad.err
    catalog.write_text('base = "default"\n[models]\nsdxl = 5\n')
    bad = cli("--config", str(catalog), "job-types")
    assert bad.code == 2 and "must be a table" in bad.err and "unexpected" not in bad.err


def test_huge_ids_and_debug_keep_exit_code_2(home: Path, cli: Callable[..., Result]) -> None:
    for args in (("jobs", "show"), ("queue", "cancel"), ("assets", "delete", "--yes")):
        r = cli(*args[:2], "12345678901234567890", *args[2:])
        assert r.code == 2 and "unexpected" not in r.err, (args, r.err)
    debug = cli("--debug", "jobs", "show", "12345678901234567890")
    assert debug.code == 2 and "no job" in debug.err


def test_single_file_sdxl_enhances_with_its_config_tokenizer(home: Path, cli: Callable[..., Result],
                                                              smoke_root: Path, tmp_path: Path) -> None:
    from tests.support.ldm_checkpoint import write_single_file

    ckpt = write_single_file(smoke_root / "models" / "sdxl", tmp_path / "tiny-sdxl.safetensors")
    catalog = tmp_path / "single.toml"
    catalog.write_text(f'base = "default"\nenhancer = "qwen"\n[models.sdxl]\npath = "{ckpt}"\n'
                       f'config = "{smoke_root}/models/sdxl"\nrepo = false\ndtype = "float32"\nvae = false\n'
                       f'[models.qwen]\npath = "{smoke_root}/models/qwen"\nrepo = false\ndtype = "float32"\n'
                       'max_new_tokens = 8\n[models.wan]\n'
                       f'path = "{smoke_root}/models/wan"\nrepo = false\ndtype = "float32"\nloras = []\n'
                       '[job_types.sdxl_image_fast]\nsize = "64x64"\n')
    r = cli("--config", str(catalog), "generate", "sdxl_image_fast", "a fox", "--enhance", "--steps", "1",
            "--count", "1", "--json")
    assert r.code == 0, r.err
