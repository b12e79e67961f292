"""`ourvidz storyboard`: plan scenes with Qwen (or by paragraph), store the project, queue one job per scene."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.catalog.schema import MAX_SEED, Catalog
from ourvidz_cli.catalog.values import parse_seed
from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.prompts import storyboard as sb

PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _read_script(path: Path) -> str:
    try:
        script = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the script {path}: {exc}") from None
    if not script.strip():
        raise UsageError(f"the script {path} is empty")
    return script


def _check_request(catalog: Catalog, ledger: Ledger, name: str, job_type: str, scenes: int | None) -> None:
    if not PROJECT_NAME.fullmatch(name):
        raise UsageError(f"project name '{name}' must be 1-64 letters, digits, '.', '_' or '-'; use --name")
    if scenes is not None and not 1 <= scenes <= sb.MAX_SCENES:
        raise UsageError(f"--scenes must be 1..{sb.MAX_SCENES}")
    catalog.job_type(job_type)
    if catalog.enhancer is None:
        raise UsageError(f"the catalog {catalog.path} names no enhancer model to plan scenes with")
    reason = catalog.models[catalog.enhancer].missing_reason()
    if reason:
        raise UsageError(reason)
    if ledger.projects.exists(name):
        raise UsageError(f"a project named '{name}' exists; pick another --name")


def plan_project(catalog: Catalog, ledger: Ledger, engine: Any, script_path: Path, job_type: str,
                 scenes: int | None, name: str | None, seed: Any = None,
                 on_phase: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Plan, store and queue a storyboard project; returns what `storyboard --json` prints."""
    script = _read_script(script_path)
    name = name or script_path.stem
    _check_request(catalog, ledger, name, job_type, scenes)
    base_seed = parse_seed(seed) if seed is not None else secrets.randbelow(MAX_SEED + 1)
    system, repair = catalog.prompt("storyboard"), catalog.prompt("storyboard-repair")
    model = catalog.models[catalog.enhancer or ""]
    ref = model.as_ref()

    def ask(messages: list[dict[str, str]]) -> str:
        on_phase(f"loading {model.name}")
        qwen, _ = engine.get(ref)
        on_phase(f"planning scenes with {model.name}")
        limit = (repair if messages[0]["content"] == repair.system else system).max_new_tokens
        return str(engine.family(model.kind).chat(qwen, messages, limit or model.max_new_tokens))

    planned = sb.plan(script, scenes, system.system, repair.system, ask)
    rows = []
    for scene in planned.board.scenes:
        spec = resolve_job(catalog, job_type, sb.scene_prompt(scene, planned.board.characters), {"seed": base_seed})
        rows.append(({"title": scene.title, "shot": scene.shot, "duration_s": scene.duration_s,
                      "characters": list(scene.characters)}, spec))
    project_id = ledger.projects.add(name, script, job_type, planned.source, planned.note,
                                     [(c.name, c.description) for c in planned.board.characters], rows)
    project = ledger.projects.get(name)
    return {"project": name, "id": project_id, "source": planned.source, "note": planned.note,
            "seed": base_seed, "model_loads": engine.loads, "answers": planned.answers,
            "characters": project["characters"],
            "scenes": [{k: sc[k] for k in ("idx", "title", "shot", "duration_s", "characters", "prompt", "job_id")}
                       for sc in project["scenes"]]}
