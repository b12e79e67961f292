"""A job's sampler and flow shift: `--sampler`/`--shift`, else the job type's catalog default, else the
model's; checked against the family's sampler table (engine.families.samplers)."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.catalog.schema import JobType, Model
from ourvidz_cli.catalog.values import parse_seed
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


def variation(over: dict[str, Any], has_inputs: bool) -> tuple[int | None, float | None]:
    """--variation-seed S and --variation-strength W (default 0.1: a nudge); text jobs only."""
    if "variation_seed" not in over:
        if "variation_strength" in over:
            raise UsageError("--variation-strength needs --variation-seed: the seed whose noise to lean towards")
        return None, None
    if has_inputs:
        raise UsageError("--variation-seed shapes the starting noise of a text job; it does not apply with "
                         "--image, --video or reference frames")
    try:
        strength = float(over.get("variation_strength", 0.1))
    except (TypeError, ValueError):
        raise UsageError(f"--variation-strength must be a number, got {over.get('variation_strength')!r}") from None
    if not 0 <= strength <= 1:
        raise UsageError(f"--variation-strength {strength:g} is outside [0, 1]: 0 is the seed, 1 the variation seed")
    return parse_seed(over["variation_seed"]), strength


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
