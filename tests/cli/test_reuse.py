"""Skip repeats: an identical request with a fixed seed is answered from the completed job's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result, jobs

ARGS = ("--smoke", "generate", "sdxl_image_fast", "a lighthouse at dawn", "--seed", "5", "--steps", "2",
        "--count", "2", "--json")


def _in_subprocess(home: Path, tmp_path: Path, *args: str) -> tuple[dict, set[str]]:
    """`ourvidz ARGS` in its own process: its JSON, and the top-level modules it imported."""
    report = tmp_path / "modules.json"
    script = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from ourvidz_cli.cli.main import entry\n"
        f"sys.argv = ['ourvidz', *{list(args)!r}]\n"
        "entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "OURVIDZ_HOME": str(home)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), {m.split(".")[0] for m in json.loads(report.read_text())}


def test_a_repeat_is_answered_from_the_first_jobs_files(cli: Callable[..., Result], home: Path,
                                                        tmp_path: Path) -> None:
    first = cli(*ARGS).json()
    again, modules = _in_subprocess(home, tmp_path, *ARGS)
    assert again["reused_from"] == first["job_id"] and again["outputs"] == first["outputs"]
    assert again["job_id"] != first["job_id"] and again["status"] == "completed"
    assert not modules & {"torch", "diffusers", "transformers"}  # no model was loaded, or even imported
    row = jobs(home)[-1]
    assert row["reused_from"] == first["job_id"] and row["status"] == "completed"
    assert cli("assets", "list", "--json").json().__len__() == 2  # no second copy of the files
    assert cli("jobs", "show", str(again["job_id"]), "--json").json()["reused_from"] == first["job_id"]


def test_a_changed_setting_random_seed_or_force_renders(cli: Callable[..., Result], home: Path) -> None:
    first = cli(*ARGS).json()
    changed = cli(*[a if a != "2" else "3" for a in ARGS]).json()  # --steps 3
    assert "reused_from" not in changed and changed["outputs"] != first["outputs"]
    forced = cli(*ARGS, "--force").json()
    assert "reused_from" not in forced and forced["outputs"] != first["outputs"]
    unseeded = [a for a in ARGS if a not in ("--seed", "5")]
    one, two = cli(*unseeded).json(), cli(*unseeded).json()
    assert "reused_from" not in one and "reused_from" not in two
    assert all(j["reused_from"] is None for j in jobs(home))


def test_missing_or_changed_files_are_rendered_again(cli: Callable[..., Result], home: Path) -> None:
    first = cli(*ARGS).json()
    Path(first["outputs"][1]).write_bytes(b"not the image any more")
    again = cli(*ARGS).json()
    assert "reused_from" not in again and again["outputs"] != first["outputs"]
    Path(again["outputs"][0]).unlink()
    third = cli(*ARGS).json()
    assert "reused_from" not in third


def test_rerun_always_renders(cli: Callable[..., Result], home: Path) -> None:
    first = cli(*ARGS).json()
    rerun = cli("rerun", str(first["job_id"]), "--json").json()
    assert "reused_from" not in rerun and rerun["rerun_of"] == first["job_id"]
    assert rerun["outputs"] != first["outputs"] and all(Path(p).is_file() for p in rerun["outputs"])
