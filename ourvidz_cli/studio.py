"""What the commands act on: the data home, the chosen catalog and the ledger, opened lazily."""

from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog import Catalog, JobSpec, load_catalog, packaged_catalog_path, resolve_job, respec
from ourvidz_cli.errors import UsageError
from ourvidz_cli.jobfile import read_jobs
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.paths import ledger_path


@dataclass(frozen=True)
class Settings:
    home: Path
    config: Path | None = None
    smoke: bool = False


class Studio:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home

    def catalog_path(self) -> Path:
        if self.settings.smoke:
            from ourvidz_cli import smoke

            return smoke.smoke_catalog_path(self.home)
        if self.settings.config:
            return self.settings.config
        env = os.environ.get("OURVIDZ_CONFIG")
        return Path(env) if env else packaged_catalog_path()

    @cached_property
    def catalog(self) -> Catalog:
        if self.settings.smoke:
            from ourvidz_cli import smoke

            if not smoke.is_built(self.home):
                # stderr: a first run pauses here for seconds, and stdout must stay data.
                print(f"building tiny random-weight smoke models in {smoke.smoke_dir(self.home)} (once) …",
                      file=sys.stderr)
                self.ensure_smoke(force=False)
            smoke.refresh_catalog(self.home)
        return load_catalog(self.catalog_path())

    def ensure_smoke(self, force: bool) -> Path:
        from ourvidz_cli import smoke

        return smoke.init_smoke(self.home, force=force)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(ledger_path(self.home))

    def resolve(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> JobSpec:
        return resolve_job(self.catalog, job_type, prompt, overrides)

    def enqueue(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> list[int]:
        spec = self.resolve(job_type, prompt, overrides)  # before the ledger opens: bad input writes nothing
        return self.ledger.add([spec])

    def enqueue_file(self, path: Path, defaults: dict[str, Any]) -> list[int]:
        """Validate every line first; a bad line means no job from the file is queued."""
        specs = []
        for line, fields in read_jobs(path):
            fields = {**{k: v for k, v in defaults.items() if v is not None}, **fields}
            job_type, prompt = fields.pop("type", None), fields.pop("prompt", None)
            if not job_type:
                raise UsageError(f"{path}:{line}: no job type; each job needs \"type\" and \"prompt\"")
            try:
                specs.append(self.resolve(str(job_type), prompt, fields))
            except UsageError as exc:
                raise UsageError(f"{path}:{line}: {exc}; nothing was queued") from None
        return self.ledger.add(specs)

    def rerun_spec(self, job_id: int, seed: Any = None) -> JobSpec:
        return respec(self.ledger.get(job_id), seed)

    def enhance(self, prompt: str, target: str, use_cache: bool = True, device: str | None = None,
                on_phase: Any = None) -> Any:
        """`ourvidz enhance`: the same enhancement an enhanced job runs, outside any job."""
        from ourvidz_cli.catalog import MAX_PROMPT_CHARS
        from ourvidz_cli.enhancer import Enhancer

        text = prompt.strip()
        if not text:
            raise UsageError("the prompt is empty; give the prompt to enhance")
        if len(text) > MAX_PROMPT_CHARS:
            raise UsageError(f"the prompt is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
        catalog = self.catalog
        if catalog.enhancer is None:
            raise UsageError(f"the catalog {catalog.path} names no enhancer model (enhancer = \"qwen\")")
        spec = catalog.enhance_config(catalog.enhancer, target)
        model = catalog.models[catalog.enhancer]
        reason = model.missing_reason()
        if reason:
            raise UsageError(reason)
        engine = LazyEngine(device)
        enhancer = Enhancer(self.ledger, engine.get, engine.family)
        result = enhancer.enhance(model.as_config(), spec, text, use_cache=use_cache,
                                  on_phase=on_phase or (lambda _: None))
        self.model_loads = engine.loads
        return result

    def storyboard(self, script_path: Path, job_type: str, scenes: int | None, name: str | None,
                   seed: Any = None, device: str | None = None, on_phase: Any = None) -> dict[str, Any]:
        """Plan scenes with Qwen (or by paragraph), store the project and queue one job per scene."""
        from ourvidz_cli import storyboard as sb
        from ourvidz_cli.catalog import MAX_SEED, parse_seed

        try:
            script = script_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the script {script_path}: {exc}") from None
        if not script.strip():
            raise UsageError(f"the script {script_path} is empty")
        name = name or script_path.stem
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise UsageError(f"project name '{name}' must be 1-64 letters, digits, '.', '_' or '-'; use --name")
        if scenes is not None and not 1 <= scenes <= sb.MAX_SCENES:
            raise UsageError(f"--scenes must be 1..{sb.MAX_SCENES}")
        catalog = self.catalog
        catalog.job_type(job_type)
        if catalog.enhancer is None:
            raise UsageError(f"the catalog {catalog.path} names no enhancer model to plan scenes with")
        system, repair = catalog.prompt("storyboard"), catalog.prompt("storyboard-repair")
        model = catalog.models[catalog.enhancer]
        if model.missing_reason():
            raise UsageError(str(model.missing_reason()))
        base_seed = parse_seed(seed) if seed is not None else secrets.randbelow(MAX_SEED + 1)
        if self.ledger.conn.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
            raise UsageError(f"a project named '{name}' exists; pick another --name")
        engine = LazyEngine(device)
        phase = on_phase or (lambda _: None)
        cfg = model.as_config()

        def ask(messages: list[dict[str, str]]) -> str:
            phase(f"loading {model.name}")
            qwen, _ = engine.get(cfg)
            phase(f"planning scenes with {model.name}")
            limit = (repair if messages[0]["content"] == repair.system else system).max_new_tokens
            return str(engine.family(model.kind).chat(qwen, messages, limit or model.max_new_tokens))

        planned = sb.plan(script, scenes, system.system, repair.system, ask)
        rows = []
        for scene in planned.board.scenes:
            prompt = sb.scene_prompt(scene, planned.board.characters)
            spec = self.resolve(job_type, prompt, {"seed": base_seed})
            rows.append(({"title": scene.title, "shot": scene.shot, "duration_s": scene.duration_s,
                          "characters": list(scene.characters)}, spec))
        project_id = self.ledger.add_project(
            name, script, job_type, planned.source, planned.note,
            [(c.name, c.description) for c in planned.board.characters], rows)
        project = self.ledger.project(name)
        return {"project": name, "id": project_id, "source": planned.source, "note": planned.note,
                "seed": base_seed, "model_loads": engine.loads, "answers": planned.answers,
                "characters": project["characters"],
                "scenes": [{k: sc[k] for k in ("idx", "title", "shot", "duration_s", "characters", "prompt", "job_id")}
                           for sc in project["scenes"]]}

    def render_project(self, name: str, out: Path | None = None) -> dict[str, Any]:
        from ourvidz_cli.errors import OurvidzError
        from ourvidz_cli.paths import outputs_dir
        from ourvidz_cli.render import concat

        project = self.ledger.project(name)
        first_job = self.ledger.get(project["scenes"][0]["job_id"])
        if first_job["config"]["output"] != "mp4":
            raise UsageError(f"project '{name}' renders images ({project['job_type']}); only videos can be joined")
        clips, waiting = [], []
        for scene in project["scenes"]:
            videos = [a for a in scene["outputs"] if a["kind"] == "video"]
            if scene["status"] != "completed" or not videos:
                waiting.append(f"scene {scene['idx'] + 1} (job {scene['job_id']}: {scene['status']})")
                continue
            clips.append(self.home / videos[0]["path"])
        if waiting:
            raise OurvidzError(f"project '{name}' is not finished: {', '.join(waiting[:5])}"
                               f"{' …' if len(waiting) > 5 else ''}; run 'ourvidz queue run' first")
        dest = out or outputs_dir(self.home) / "videos" / f"{name}.mp4"
        concat(clips, dest)
        self.ledger.set_render(project["id"], str(dest))
        from ourvidz_cli.media import video_frames

        return {"project": name, "path": str(dest), "scenes": len(clips), "frames": video_frames(dest),
                "scene_frames": [video_frames(c) for c in clips]}


class LazyEngine:
    """The shared model engine, started (torch imported) only when a model must actually load."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self._engine: Any = None
        self._start_loads = 0

    def _get(self) -> Any:
        if self._engine is None:
            from ourvidz_cli.pipelines.engine import shared_engine

            self._engine = shared_engine(self.device)
            self._start_loads = self._engine.loads
        return self._engine

    def get(self, cfg: dict[str, Any]) -> tuple[Any, float]:
        loaded: tuple[Any, float] = self._get().get(cfg)
        return loaded

    def family(self, kind: str) -> Any:
        return self._get().family(kind)

    @property
    def loads(self) -> int:
        return 0 if self._engine is None else self._engine.loads - self._start_loads
