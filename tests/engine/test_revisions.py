"""Hugging Face models pinned to the commit a job loaded: `rerun` loads that commit after `main` moved,
and `rerun --exact` switches on deterministic kernels. A real Hugging Face cache layout (refs/main,
snapshots/<commit>) holds two commits of the tiny SDXL; huggingface_hub resolves them offline."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

A, B = "a" * 40, "b" * 40


def _cache(tmp_path: Path, smoke_root: Path) -> Path:
    from safetensors.torch import load_file, save_file

    cache = tmp_path / "hub"
    repo = cache / "models--ourvidz-test--tiny-sdxl"
    for commit in (A, B):
        shutil.copytree(smoke_root / "models" / "sdxl", repo / "snapshots" / commit)
    unet = repo / "snapshots" / B / "unet" / "diffusion_pytorch_model.safetensors"
    save_file({k: v * 1.5 for k, v in load_file(unet).items()}, unet)  # commit B: other weights
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(A)
    return cache


def _catalog(tmp_path: Path, pin: str | None, vae: str | None = None) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text('base = "default"\nsmoke = true\n[models.sdxl]\nrepo = "ourvidz-test/tiny-sdxl"\npath = false\n'
                    'dtype = "float32"\n' + (f'vae = "{vae}"\n' if vae else "vae = false\n") +
                    (f'revision = "{pin}"\n' if pin else "") + '[job_types.sdxl_image_fast]\nsize = "64x64"\n')
    return path


def _vae_cache(cache: Path, smoke_root: Path) -> str:
    """A replacement VAE as a Hugging Face repo with two commits (B's weights differ)."""
    from safetensors.torch import load_file, save_file

    repo = cache / "models--ourvidz-test--tiny-vae"
    for commit in (A, B):
        shutil.copytree(smoke_root / "models" / "sdxl" / "vae", repo / "snapshots" / commit)
    weights = repo / "snapshots" / B / "diffusion_pytorch_model.safetensors"
    save_file({k: v * 0.5 for k, v in load_file(weights).items()}, weights)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(A)
    return "ourvidz-test/tiny-vae"


def _ourvidz(home: Path, cache: Path, *args: str, pin: str | None = None, vae: str | None = None) -> Any:
    # A process of its own: huggingface_hub reads HF_HUB_CACHE and HF_HUB_OFFLINE when it is imported, and
    # --exact changes torch's global settings.
    env = {"OURVIDZ_HOME": str(home), "OURVIDZ_CONFIG": str(_catalog(home.parent, pin, vae)),
           "HF_HUB_CACHE": str(cache),
           "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", *args, "--json"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _pixels(home: Path, result: dict[str, Any]) -> bytes:
    from PIL import Image

    return Image.open(result["outputs"][0]).tobytes()


def test_rerun_loads_the_commit_the_job_loaded(home: Path, smoke_root: Path, tmp_path: Path) -> None:
    from ourvidz_cli.ledger import Ledger

    cache = _cache(tmp_path, smoke_root)
    first = _ourvidz(home, cache, "generate", "sdxl_image_fast", "a lighthouse", "--seed", "5", "--steps", "2",
                     "--no-worker")
    ledger = Ledger(home / "ledger.db")
    assert json.loads(ledger.jobs.get(first["job_id"])["revisions"]) == {"ourvidz-test/tiny-sdxl": A}
    (cache / "models--ourvidz-test--tiny-sdxl" / "refs" / "main").write_text(B)  # `models pull` moved main
    moved = _ourvidz(home, cache, "generate", "sdxl_image_fast", "a lighthouse", "--seed", "5", "--steps", "2",
                     "--no-worker")
    assert json.loads(ledger.jobs.get(moved["job_id"])["revisions"]) == {"ourvidz-test/tiny-sdxl": B}
    assert _pixels(home, moved) != _pixels(home, first)  # the new commit's weights
    again = _ourvidz(home, cache, "rerun", str(first["job_id"]), "--no-worker")
    shown = _ourvidz(home, cache, "jobs", "show", str(again["job_id"]))
    assert shown["revisions"] == {"ourvidz-test/tiny-sdxl": A} and shown["rerun_of"] == first["job_id"]
    assert _pixels(home, again) == _pixels(home, first)


def test_a_catalog_pin_beats_main(home: Path, smoke_root: Path, tmp_path: Path) -> None:
    from ourvidz_cli.ledger import Ledger

    cache = _cache(tmp_path, smoke_root)
    pinned = _ourvidz(home, cache, "generate", "sdxl_image_fast", "a pier", "--seed", "2", "--steps", "1",
                      "--no-worker", pin=B)
    assert json.loads(Ledger(home / "ledger.db").jobs.get(pinned["job_id"])["revisions"]) == \
        {"ourvidz-test/tiny-sdxl": B}


@pytest.mark.parametrize("exact", [True, False])
def test_rerun_exact_switches_on_deterministic_kernels(home: Path, smoke_root: Path, tmp_path: Path,
                                                       exact: bool) -> None:
    cache = _cache(tmp_path, smoke_root)
    first = _ourvidz(home, cache, "generate", "sdxl_image_fast", "a harbour", "--seed", "3", "--steps", "1",
                     "--no-worker")
    again = _ourvidz(home, cache, "rerun", str(first["job_id"]), *(["--exact"] if exact else []))
    log = home / "logs" / f"{again['job_id']}.log"
    if not exact:
        assert "deterministic" not in again and "deterministic kernels" not in log.read_text()
        return
    assert again["deterministic"] == {"deterministic_algorithms": True, "cudnn_deterministic": True,
                                      "cudnn_benchmark": False, "tf32": False, "cublas_workspace_config": ":4096:8"}
    assert "deterministic kernels" in log.read_text()
    assert _pixels(home, again) == _pixels(home, first)


def test_exact_refuses_compile(cli: Any) -> None:
    result = cli("--smoke", "rerun", "1", "--exact", "--compile")
    assert result.code == 2 and "--exact and --compile do not mix" in result.err


def test_the_replacement_vae_is_pinned_recorded_and_loaded_again(home: Path, smoke_root: Path, tmp_path: Path) -> None:
    from ourvidz_cli.ledger import Ledger

    cache = _cache(tmp_path, smoke_root)
    vae = _vae_cache(cache, smoke_root)
    args = ("generate", "sdxl_image_fast", "a buoy", "--seed", "6", "--steps", "2", "--no-worker")
    first = _ourvidz(home, cache, *args, vae=vae)
    ledger = Ledger(home / "ledger.db")
    assert json.loads(ledger.jobs.get(first["job_id"])["revisions"]) == {"ourvidz-test/tiny-sdxl": A, vae: A}
    (cache / "models--ourvidz-test--tiny-vae" / "refs" / "main").write_text(B)
    moved = _ourvidz(home, cache, *args, vae=vae)  # the VAE changed: a repeat is not answered from the first
    assert "reused_from" not in moved and _pixels(home, moved) != _pixels(home, first)
    again = _ourvidz(home, cache, "rerun", str(first["job_id"]), "--no-worker", vae=vae)
    assert _pixels(home, again) == _pixels(home, first)  # the VAE commit the first job loaded


def test_a_job_queued_before_models_pull_is_filed_under_what_it_loaded(home: Path, smoke_root: Path,
                                                                       tmp_path: Path) -> None:
    cache = _cache(tmp_path, smoke_root)
    request = ("sdxl_image_fast", "a jetty", "--seed", "8", "--steps", "2")
    _ourvidz(home, cache, "queue", "add", *request)
    (cache / "models--ourvidz-test--tiny-sdxl" / "refs" / "main").write_text(B)  # `models pull` meanwhile
    ran = _ourvidz(home, cache, "queue", "run")
    assert ran["completed"] == 1
    repeat = _ourvidz(home, cache, "generate", *request, "--no-worker")  # the same request, on B
    assert repeat["reused_from"] == ran["jobs"][0]["job_id"]
    (cache / "models--ourvidz-test--tiny-sdxl" / "refs" / "main").write_text(A)
    fresh = _ourvidz(home, cache, "generate", *request, "--no-worker")  # on A: never the outputs made on B
    assert "reused_from" not in fresh
