"""Shell completion (issue 29): `ourvidz generate <TAB>` lists the catalog's job types, `--sampler`
the samplers, `jobs show` the ledger's recent ids, driven through Click's completion variables, and none
of it imports a model library (the shell waits for the answer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result

HEAVY = {"torch", "diffusers", "transformers"}


def _complete(home: Path, words: str, cword: int, report: Path) -> list[str]:
    script = ("import atexit, json, sys\n"
              f"atexit.register(lambda: open({str(report)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
              "from ourvidz_cli.cli.main import entry\nsys.argv = ['ourvidz']\nentry()\n")
    env = {**os.environ, "OURVIDZ_HOME": str(home), "_OURVIDZ_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not {m.split(".")[0] for m in json.loads(report.read_text())} & HEAVY
    return proc.stdout.split("\n")


def test_completion_answers_from_the_catalog_and_the_ledger(cli: Callable[..., Result], home: Path,
                                                            tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    types = _complete(home, "ourvidz generate ", 2, report)
    assert {"sdxl_image_fast", "video_fast", "image7b_fast_enhanced"} <= set(types)
    assert _complete(home, "ourvidz generate sdxl_image_fast x --sampler DPM++ 2", 5, report)[0].startswith("DPM++ 2")
    assert "wan_vace" in _complete(home, "ourvidz generate video_fast x --model w", 5, report)
    assert cli("--smoke", "queue", "add", "sdxl_image_fast", "a boat").code == 0
    assert _complete(home, "ourvidz jobs show ", 3, report)[0] == "1"
