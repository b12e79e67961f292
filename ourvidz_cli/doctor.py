"""`ourvidz doctor`: everything a job depends on, checked in one place.

A check that fails means some job cannot run (exit 1); a warning means it runs, but worse.
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError

OK, WARN, FAIL = "ok", "warn", "fail"
LOW_DISK_GB = 10.0


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def _python() -> list[Check]:
    return [Check("python", OK, f"{platform.python_version()} ({platform.machine()})")]


def _torch() -> list[Check]:
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", FAIL, f"not importable: {exc}", "pip install torch (a CUDA build on GPU machines)")]
    checks = [Check("torch", OK, f"{torch.__version__}")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            checks.append(Check(
                f"gpu {i}", OK,
                f"{torch.cuda.get_device_name(i)}, {total / 2**30:.1f} GiB total, {free / 2**30:.1f} GiB free; "
                f"CUDA {torch.version.cuda}",
            ))
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        checks.append(Check("gpu", OK, "Apple MPS"))
    else:
        cuda = torch.version.cuda or "none (CPU build)"
        checks.append(Check("gpu", WARN, f"no GPU visible to torch (CUDA in this build: {cuda}); jobs run on "
                                         "the CPU, slowly", "install a CUDA build of torch on a GPU machine"))
    return checks


def _ffmpeg() -> list[Check]:
    import subprocess

    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        first = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
        first = first.split(" Copyright")[0]
    except (ImportError, RuntimeError, OSError, IndexError, subprocess.SubprocessError) as exc:
        return [Check("ffmpeg", FAIL, f"unusable: {exc}", "pip install imageio-ffmpeg")]
    return [Check("ffmpeg", OK, f"{first} ({exe})")]


def _catalog(load: Callable[[], Any]) -> tuple[list[Check], Any]:
    try:
        catalog = load()
    except OurvidzError as exc:
        return [Check("catalog", FAIL, str(exc), "fix models.toml or drop --config")], None
    return [Check("catalog", OK, f"{catalog.path}: {len(catalog.job_types)} job types, "
                                 f"{len(catalog.models)} models, {len(catalog.buckets)} buckets")], catalog


def _models(catalog: Any) -> list[Check]:
    from ourvidz_cli.engine.models.model_store import locate

    checks = []
    for model in catalog.models.values():
        loc = locate(model, catalog)
        users = catalog.users(model.name)
        if loc.present:
            size = f", {loc.bytes / 2**20:,.1f} MiB" if loc.bytes else ""
            checks.append(Check(f"model {model.name}", OK, f"{loc.where}{size}"))
        else:
            checks.append(Check(f"model {model.name}", FAIL,
                                f"missing: {loc.source} is not on this machine; needed by {', '.join(users)}",
                                loc.fetch))
    return checks


def _disk(home: Path) -> list[Check]:
    probe = home
    while not probe.exists():
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 2**30
    status = OK if free_gb >= LOW_DISK_GB else WARN
    return [Check("disk", status, f"{free_gb:.1f} GiB free of {usage.total / 2**30:.1f} GiB at {home}",
                  None if status == OK else "free space: a 200-job video queue needs several GiB")]


def _ledger(ledger_path: Path, home: Path) -> list[Check]:
    from ourvidz_cli.ledger.health import inspect

    if not ledger_path.exists():
        return [Check("ledger", OK, f"{ledger_path} not created yet (the first job creates it)")]
    health = inspect(ledger_path)
    if not health.readable:
        return [Check("ledger", FAIL, f"{ledger_path} cannot be read: {health.error}",
                      "move the file aside (its jobs are lost) or restore a backup")]
    if not health.ok:
        detail = "; ".join(health.integrity[:3]) if health.integrity != ["ok"] else \
            f"{health.dangling_assets} asset row(s) point at missing jobs"
        return [Check("ledger", FAIL, f"{ledger_path} is damaged: {detail}",
                      "sqlite3 ledger.db '.recover' | sqlite3 recovered.db, then use the recovered file")]
    missing = [p for p, size in health.asset_files if not (home / p).is_file() or (home / p).stat().st_size != size]
    checks = [Check("ledger", OK, f"{ledger_path}: integrity ok, {health.jobs} jobs, "
                                  f"{len(health.asset_files)} assets")]
    if missing:
        checks.append(Check("outputs", WARN, f"{len(missing)} asset file(s) missing or changed, e.g. {missing[0]}",
                            "'ourvidz assets delete ID' drops an asset's row"))
    return checks


def run_checks(home: Path, ledger_path: Path, load_catalog: Callable[[], Any]) -> list[Check]:
    checks = _python() + _torch() + _ffmpeg()
    catalog_checks, catalog = _catalog(load_catalog)
    checks += catalog_checks
    if catalog is not None:
        checks += _models(catalog)
    return checks + _disk(home) + _ledger(ledger_path, home)
