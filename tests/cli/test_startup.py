"""Everyday commands must not pay for torch, diffusers or transformers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
sys.argv = ["ourvidz", *sys.argv[1:]]
from ourvidz_cli.cli.main import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = [m for m in ("torch", "diffusers", "transformers") if m in sys.modules]
print(f"EXIT:{code} HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["queue", "list"], ["queue", "list", "--json"], ["jobs", "show", "1"],
                                  ["job-types"], ["queue", "add", "image_fast", "x"],
                                  ["assets", "list"], ["stats", "--json"], ["sync", "status"], ["models", "list"]])
def test_light_commands_import_no_model_libraries(cli, home: Path, args: list[str]) -> None:
    cli("--smoke", "queue", "add", "image_fast", "make the ledger and smoke models exist")
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60,
                          env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert proc.stderr.strip().endswith("EXIT:0 HEAVY:"), proc.stderr  # it answered, and without them


@pytest.mark.parametrize("launcher", [["-m", "ourvidz_cli"], ["-c", "from ourvidz_cli.cli.main import entry; entry()"]])
def test_version_answers_without_a_command(launcher: list[str]) -> None:
    from ourvidz_cli import __version__

    proc = subprocess.run([sys.executable, *launcher, "--version"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, f"ourvidz {__version__}\n"), proc.stderr
