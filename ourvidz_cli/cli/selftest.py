"""`ourvidz selftest`: the first thing to run on a new GPU box: each model family, on this device, with
the tiny smoke models, checked for placement, finite outputs, shapes and determinism."""

from __future__ import annotations

import time
from typing import Any

import typer

from ourvidz_cli.cli.options import DeviceOpt, JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console, table
from ourvidz_cli.cli.root import app, workspace


def _targets(catalog: Any) -> list[tuple[Any, str, Any]]:
    """(model, job type, resolved config) per model family: the job type with the most frames, so video
    families are run as video; a chat model (the enhancer) has no job type of its own; VACE runs in the
    video type of the Wan model that names it (a first-frame job)."""
    from dataclasses import replace

    from ourvidz_cli.catalog.resolve import resolve_job

    out, seen = [], set()
    for model in catalog.models.values():
        if model.kind in seen:
            continue
        seen.add(model.kind)
        owners = [m.name for m in catalog.models.values() if m.vace == model.name]
        types = [jt for jt in catalog.job_types.values() if jt.model in ([model.name] + owners) and not jt.enhancer]
        if not types:
            out.append((model.as_ref(), "(enhancer)", None))
            continue
        jt = max(types, key=lambda t: (t.frames or 1, -len(t.name)))
        config = resolve_job(catalog, jt.name, "selftest", {"count": 1}).config
        out.append((model.as_ref(), jt.name, replace(config, vace=model.as_ref()) if owners else config))
    return out


@app.command()
def selftest(device: DeviceOpt = None, as_json: JsonOpt = False) -> None:
    """Run every model family on this device with the tiny smoke models and check placement (device and
    dtype of every component), finite outputs, shapes and same-seed determinism; exit 1 if any fails."""
    from ourvidz_cli.app import App, Settings
    from ourvidz_cli.cli.run import RunFlags
    from ourvidz_cli.engine.families.registry import family
    from ourvidz_cli.engine.jobs.selftest import check_family

    RunFlags(device=device).check()
    smoke = App(Settings(home=workspace().home, smoke=True))
    started = time.perf_counter()
    engine = smoke.engine(device, on_start=lambda text: err_console().print(f"  {text}", style="dim")).engine
    checks = []
    for model, job_type, config in _targets(smoke.catalog):
        err_console().print(f"  checking {model.kind} ({job_type}) on {engine.device}", style="dim")
        checks.append(check_family(engine, family(model.kind), model, job_type, config))
    ok = all(c.ok for c in checks)
    _report(checks, engine.device, time.perf_counter() - started, ok, as_json)
    if not ok:
        raise typer.Exit(1)


def _report(checks: list[Any], device: str, seconds: float, ok: bool, as_json: bool) -> None:
    import torch

    if as_json:
        emit_json({"ok": ok, "device": device, "torch": torch.__version__, "seconds": round(seconds, 1),
                   "families": [c.as_dict() for c in checks]})
        return

    def mark(good: bool) -> str:
        return "ok" if good else "FAIL"

    table(("family", "job type", "load s", "run s", "output", "finite", "same twice", "placement"),
          [[c.family, c.job_type, f"{c.load_s:.1f}", f"{c.run_s:.1f}", f"{c.shape} {mark(c.shape_ok)}",
            mark(c.finite), mark(c.deterministic),
            "ok" if all(p.ok for p in c.placements) else "; ".join(
                f"{p.component} on {p.device}/{p.dtype}, want {p.expected}" for p in c.placements if not p.ok)]
           for c in checks], title=f"selftest on {device} (torch {torch.__version__})")
    for c in checks:
        if c.error:
            out_console().print(f"{c.family}: {c.error}")
    verdict = "every family passed" if ok else "FAILED: see the rows above ('ourvidz doctor' checks the setup)"
    out_console().print(f"{verdict} in {seconds:.0f}s")
