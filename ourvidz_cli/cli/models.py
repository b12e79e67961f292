"""`ourvidz models ...` and `ourvidz job-types`: the catalog's models (where each resolves, pull, check,
the smoke set) and its job types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ourvidz_cli.cli.options import JsonOpt
from ourvidz_cli.cli.output import emit_json, err_console, out_console, table
from ourvidz_cli.cli.root import app, sub_app, workspace
from ourvidz_cli.errors import OurvidzError, UsageError

models_app = sub_app("Models the catalog points at.")


def _models(name: str | None) -> list[Any]:
    cat = workspace().catalog
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
    from ourvidz_cli.engine.models.model_store import estimate_bytes, locate

    rows = []
    for model, cat in _models(None):
        loc = locate(model, cat)
        mem = estimate_bytes(model.as_ref()) if loc.present else None
        rows.append({**loc.as_dict(), "dtype": model.dtype, "memory_bytes": mem,
                     "loras": [{k: v for k, v in lora.to_dict().items() if k != "local"} for lora in model.loras],
                     "single_file": model.single_file, "job_types": cat.users(model.name)})
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
    from ourvidz_cli.engine.models.model_store import pull

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
    from ourvidz_cli.engine.models.model_store import check

    report = {model.name: check(model, cat) for model, cat in _models(name)}
    if as_json:
        emit_json({"ok": not any(report.values()), "models": report})
    else:
        for model_name, problems in report.items():
            print(f"{model_name}: " + ("ok" if not problems else "; ".join(problems)))
    if any(report.values()):
        raise typer.Exit(1)


@models_app.command("init-smoke")
def models_init_smoke(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if present.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build tiny random-weight SDXL, Wan and Qwen models offline (the smoke profile)."""
    ws = workspace()
    err_console().print("building tiny random-weight models (outputs will be noise) …")
    path = ws.ensure_smoke(force=force)
    if as_json:
        emit_json({"catalog": str(path), "models": str(path.parent / "models")})
    else:
        print(path)
        err_console().print("use them with: ourvidz --smoke generate sdxl_image_fast \"a lighthouse at dawn\"")


@app.command("job-types")
def job_types(as_json: JsonOpt = False) -> None:
    """List the job types in the catalog."""
    cat = workspace().catalog
    rows = [
        {
            "type": jt.name, "model": jt.model, "enhancer": jt.enhancer, "steps": jt.steps,
            "frames": jt.frames, "size": f"{jt.width}x{jt.height}", "count": jt.count, "output": jt.output,
            "bucket": jt.bucket, "priority": jt.priority, "guidance": jt.guidance,
        }
        for jt in cat.job_types.values()
    ]
    if as_json:
        emit_json({"catalog": str(cat.path), "smoke": cat.smoke, "job_types": rows})
        return
    from rich.table import Table

    table = Table(title=f"job types ({cat.path})")
    for col in ("type", "model", "steps", "frames", "size (WxH)", "outputs", "enhanced", "priority"):
        table.add_column(col)
    for r in rows:
        model = f"{r['enhancer']} → {r['model']}" if r["enhancer"] else r["model"]
        table.add_row(r["type"], model, str(r["steps"]), str(r["frames"] or "image"), r["size"],
                      f"{r['count']} {r['output'].upper()}", "yes" if r["enhancer"] else "no", str(r["priority"]))
    out_console().print(table)


@app.command("samplers")
def samplers(as_json: JsonOpt = False) -> None:
    """List the samplers each model family takes (--sampler), and the catalog's defaults."""
    from ourvidz_cli.engine.families.registry import FAMILIES

    cat = workspace().catalog
    rows = []
    for kind, fam in FAMILIES.items():
        for name, (cls, options) in getattr(fam, "samplers", {}).items():
            rows.append({"family": kind, "sampler": name, "scheduler": cls, "options": options,
                         "default_for": [jt.name for jt in cat.job_types.values()
                                         if (jt.sampler or cat.models[jt.model].sampler) == name
                                         and cat.models[jt.model].kind == kind]})
    if as_json:
        emit_json({"samplers": rows, "shift": "flow shift for Wan: --shift F (> 0; 3.0 at 480p, 5.0 at 720p)"})
        return
    from rich.table import Table

    table = Table(title="samplers (--sampler NAME; without it a job runs its model's own scheduler)")
    for col in ("family", "sampler", "diffusers scheduler", "options"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["family"], r["sampler"], r["scheduler"],
                      ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "-")
    out_console().print(table)
    err_console().print("Wan also takes --shift F, the flow shift (3.0 at 480p, 5.0 at 720p).")


@app.command("loras")
def loras(as_json: JsonOpt = False) -> None:
    """List the LoRAs --lora NAME and <lora:NAME> find: the catalog's [loras] and <home>/loras/*.safetensors."""
    from ourvidz_cli.catalog.loras import family_of

    ws = workspace()
    rows = [{"name": name, "source": lora.source, "where": "catalog", "weight_name": lora.weight_name}
            for name, lora in ws.catalog.loras.items()]
    folder = ws.home / "loras"
    for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        if path.stem not in ws.catalog.loras:
            rows.append({"name": path.stem, "source": str(path), "where": "loras folder", "weight_name": None})
    for row in rows:
        row["family"] = family_of(Path(row["source"])) if Path(row["source"]).is_file() else None
    if as_json:
        emit_json({"folder": str(folder), "loras": rows})
        return
    table(("name", "family", "where", "source"), [[r["name"], r["family"] or "?", r["where"], r["source"]]
                                                  for r in rows])
    err_console().print(f"put LoRA files in {folder} or name them in models.toml [loras.NAME]")
