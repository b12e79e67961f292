"""A job's sampler and flow shift: `--sampler`/`--shift`, else the job type's catalog default, else the
model's; checked against the family's sampler table (engine.families.samplers)."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.catalog.schema import JobType, Model
from ourvidz_cli.errors import UsageError


def _table(kind: str) -> dict[str, Any]:
    from ourvidz_cli.engine.families.registry import family

    return getattr(family(kind), "samplers", {})


def _which_family(name: str) -> str | None:
    from ourvidz_cli.engine.families.registry import FAMILIES

    return next((kind for kind, fam in FAMILIES.items() if name in getattr(fam, "samplers", {})), None)


def check_sampler(kind: str, name: str, where: str) -> str:
    table = _table(kind)
    if name in table:
        return name
    known = {k.lower(): k for k in table}
    if name.lower() in known:  # "dpm++ 2m karras" is what was meant
        return known[name.lower()]
    other = _which_family(name)
    if not table:
        raise UsageError(f"{where}: {kind} models take no sampler")
    said = f"'{name}' is a {other} sampler" if other else f"unknown sampler '{name}'"
    raise UsageError(f"{where}: {said}; {kind} takes: {', '.join(table)} (see 'ourvidz samplers')")


def job_sampler(jt: JobType, model: Model, over: dict[str, Any]) -> tuple[str | None, float | None]:
    """(sampler, shift) for one job; None keeps the model's own scheduler and flow shift."""
    name = over.get("sampler") or jt.sampler or model.sampler
    sampler = check_sampler(model.kind, str(name), "--sampler" if "sampler" in over else jt.name) if name else None
    raw = over.get("shift", jt.shift)
    if raw is None:
        return sampler, None
    if not any("flow_prediction" in str(opts) or cls.startswith("FlowMatch")
               for cls, opts in _table(model.kind).values()):
        raise UsageError(f"--shift does not apply to {jt.name} (model '{model.name}', {model.kind}): it is the flow "
                         "shift of flow-matching models such as Wan")
    try:
        shift = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"--shift must be a number, got {raw!r}") from None
    if not 0 < shift <= 100:
        raise UsageError(f"--shift {shift:g} is outside (0, 100]: Wan uses 3.0 at 480p and 5.0 at 720p")
    return sampler, shift
