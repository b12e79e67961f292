"""What the commands act on: the data home, the chosen catalog and the ledger, opened lazily."""

from __future__ import annotations

import os
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
