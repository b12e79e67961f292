"""`ourvidz rerun --bundle FILE.zip`: run a bundled job again here and say whether the pixels match."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ourvidz_cli.cli.output import emit_json, err_console, out_console

if TYPE_CHECKING:
    from ourvidz_cli.app import App
    from ourvidz_cli.cli.run import RunFlags


def _catalog_or_none(app: App) -> Any:
    try:
        return app.catalog
    except Exception:  # noqa: BLE001  a broken default catalog only matters if the bundle's models are missing
        return None


def rerun_bundle(app: App, path: Path, flags: RunFlags, use_worker: bool, as_json: bool) -> None:
    from ourvidz_cli.catalog.resolve import spec_from_bundle
    from ourvidz_cli.cli.run import outcome_now
    from ourvidz_cli.library import bundle

    flags.check()
    with tempfile.TemporaryDirectory(prefix="ourvidz-bundle-") as tmp:
        info = bundle.read(path.expanduser(), Path(tmp))
        spec = spec_from_bundle(info, _catalog_or_none(app))
        for entry in info.get("inputs") or []:  # checked against their sha256 names: into this data home
            (app.home / "inputs").mkdir(exist_ok=True)
            shutil.copyfile(entry["file"], app.home / entry["name"])
        notes = bundle.model_notes(info, [spec.config.model] + ([spec.config.enhancer] if spec.config.enhancer else []))
        for note in notes:
            err_console().print(f"  {note}", style="dim")
        extra: dict[str, Any] = {}
        outcome = outcome_now(app, spec, flags, extra, use_worker, reuse=False)
        if outcome.status != "completed":
            raise typer.Exit(_failed(outcome, as_json))
        result = bundle.compare([Path(o["file"]) for o in info["outputs"]], [Path(p) for p in outcome.outputs])
    now = bundle.packages()
    changed = {k: {"bundle": v, "now": now.get(k)} for k, v in info["packages"].items() if now.get(k) != v}
    report = {**outcome.as_dict(), "bundle_job_id": info["job_id"], **result, "models": notes,
              "packages_changed": changed, "bundle_device": info["device"]}
    _print(report, as_json)
    if result["match"] != "exact":
        raise typer.Exit(1)


def _failed(outcome: Any, as_json: bool) -> int:
    if as_json:
        emit_json({**outcome.as_dict(), "match": None})
    else:
        err_console().print(f"error: job {outcome.job_id} {outcome.status}: {outcome.error}")
    return 1


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    for path in report["outputs"]:
        print(path)
    rows, bundled = report["comparison"], report["bundle_job_id"]
    if report["match"] == "exact":
        out_console().print(f"pixels match job {bundled}'s exactly ({len(rows)} output(s))")
    else:
        worst = max((r.get("max_diff", 255) for r in rows), default=255)
        mean = max((r.get("mean_diff", 255.0) for r in rows), default=255.0)
        out_console().print(f"pixels differ from job {bundled}'s: max difference {worst}/255, mean "
                            f"{mean:.3f} (worst output)" + (f"; {report['why']}" if report.get("why") else ""))
    if report["packages_changed"]:
        changed = ", ".join(f"{k} {v['bundle']} -> {v['now']}" for k, v in report["packages_changed"].items())
        out_console().print(f"packages changed since the bundle: {changed}")
