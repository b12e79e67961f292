"""The Python API (issue 29, first part), through public names only: the CLI's pixels, models kept
loaded, typed errors, progress events, the warm hand-off, and the documentation's example run as written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ourvidz_cli import JobFailed, Step, Studio, UsageError
from tests.conftest import Result, jobs, spawn, wait_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def test_generate_gives_the_clis_pixels_and_keeps_the_model(cli: Callable[..., Result], home: Path) -> None:
    made = cli("--smoke", "generate", "sdxl_image_fast", "a pier", "--seed", "4", "--steps", "2", "--count", "1",
               "--no-worker", "--json")
    assert made.code == 0, made.err
    events: list[object] = []
    with Studio(home=home, smoke=True) as studio:
        first = studio.generate("sdxl_image_fast", "a pier", seed=4, steps=2, count=1, force=True,
                                use_worker=False, on_progress=events.append)
        second = studio.generate("sdxl_image_fast", "a boat", seed=4, steps=2, count=1, use_worker=False)
    want = np.asarray(Image.open(made.json()["outputs"][0]))
    assert first.status == "completed" and np.array_equal(np.asarray(first.images()[0]), want)
    assert [e.done for e in events if isinstance(e, Step)] == [1, 2]
    rows = {j["id"]: j for j in jobs(home)}
    assert rows[second.job_id]["model_load_s"] == 0.0  # the second call found the model loaded
    assert first.config["seed"] == 4 and first.timings["generate_s"] > 0


def test_constructing_a_studio_imports_no_model_library(home: Path) -> None:
    script = ("import sys; from ourvidz_cli import Studio; Studio(smoke=True); "
              "print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OURVIDZ_HOME": str(home)})
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_errors_are_typed(home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    catalog = tmp_path / "broken.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\nrepo = false\npath = "{broken}"\ndtype = "float32"\n')
    studio = Studio(home=home, config=catalog)
    with pytest.raises(UsageError, match="unknown sampler"):
        studio.generate("sdxl_image_fast", "x", sampler="Nope")
    with pytest.raises(JobFailed, match="could not be loaded") as failed:
        studio.generate("sdxl_image_fast", "x", size="64x64", use_worker=False)
    assert failed.value.result.status == "failed"
    with pytest.raises(UsageError):
        Studio(home=home, smoke=True, config=catalog)


def test_a_studio_hands_off_to_a_warm_worker_unless_told_not_to(home: Path) -> None:
    worker = spawn(home, "--smoke", "worker")
    try:
        wait_for(lambda: worker.poll() is not None or '"alive": true' in subprocess.run(
            [sys.executable, "-m", "ourvidz_cli", "worker", "status", "--json"], capture_output=True, text=True,
            env={**os.environ, "OURVIDZ_HOME": str(home)}).stdout, timeout=120, what="a live worker")
        with Studio(home=home, smoke=True) as studio:
            handed = studio.generate("sdxl_image_fast", "a bay", seed=1, steps=1, count=1)
            here = studio.generate("sdxl_image_fast", "a bay", seed=1, steps=1, count=1, force=True,
                                   use_worker=False)
        rows = {j["id"]: j for j in jobs(home)}
        assert rows[handed.job_id]["worker_pid"] == worker.pid and rows[here.job_id]["worker_pid"] != worker.pid
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)


def test_the_documentations_example_runs(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert blocks
    monkeypatch.chdir(home)
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})  # noqa: S102 - our own documentation, run as written
