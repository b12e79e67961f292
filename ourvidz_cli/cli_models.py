"""Model commands: list, pull, check. Parse, call, print."""

from __future__ import annotations

from typing import Annotated

import typer

from ourvidz_cli.cli_common import JsonOpt, emit_json, err_console, models_app, out_console, studio
from ourvidz_cli.errors import OurvidzError, UsageError


def _models(name: str | None) -> list:
    cat = studio().catalog
    if name is None:
        return [(m, cat) for m in cat.models.values()]
    if name not in cat.models:
        raise UsageError(f"no model '{name}' in {cat.path}; models: {', '.join(cat.models)}")
    return [(cat.models[name], cat)]


def _gib(n: int | None) -> str:
    return f"{n / 2**30:.2f} GiB" if n else ""


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Catalog models: where each resolves, present or missing, size on disk and in memory."""
    from ourvidz_cli.model_store import estimate_bytes, locate

    rows = []
    for model, cat in _models(None):
        loc = locate(model, cat)
        mem = estimate_bytes(model.as_config()) if loc.present else None
        users = sorted(jt.name for jt in cat.job_types.values() if model.name in (jt.model, jt.enhancer))
        rows.append({**loc.as_dict(), "dtype": model.dtype, "memory_bytes": mem,
                     "loras": [{k: v for k, v in lora.items() if k != "local"} for lora in model.loras],
                     "single_file": model.single_file, "job_types": users})
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table()
    for col in ("model", "kind", "source", "present", "on disk", "in memory", "LoRAs"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["kind"], r["source"], "yes" if r["present"] else "MISSING", _gib(r["bytes"]),
                      _gib(r["memory_bytes"]) + (f" ({r['dtype']})" if r["memory_bytes"] else ""),
                      str(len(r["loras"])) if r["loras"] else "")
    out_console().print(table)
    missing = [r for r in rows if not r["present"]]
    if missing:
        err_console().print("fetch missing models with: " + "; ".join(r["fetch"] for r in missing))


@models_app.command("pull")
def models_pull(
    name: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Download repo models (and their LoRAs) into the Hugging Face cache, with progress on stderr."""
    from ourvidz_cli.model_store import pull

    results, failures = [], []
    for model, cat in _models(name):
        err_console().print(f"{model.name}: {model.source}")
        try:
            results.append(pull(model, cat))
        except OurvidzError as exc:
            failures.append(str(exc))
            err_console().print(f"error: {exc}")
    if as_json:
        emit_json({"pulled": results, "errors": failures})
    else:
        for r in results:
            print(f"{r['name']}: {r['where']}")
    if failures:
        raise typer.Exit(1)


@models_app.command("check")
def models_check(
    name: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check each model's configs and weight headers without loading it (fast)."""
    from ourvidz_cli.model_store import check

    report = {model.name: check(model, cat) for model, cat in _models(name)}
    if as_json:
        emit_json({"ok": not any(report.values()), "models": report})
    else:
        for model_name, problems in report.items():
            print(f"{model_name}: " + ("ok" if not problems else "; ".join(problems)))
    if any(report.values()):
        raise typer.Exit(1)
