"""The workspace a command acts on: the data home, the chosen catalog, the ledger, and one lazy handle
on the model engine. Opening any of them costs nothing until a command needs it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import UsageError
from ourvidz_cli.paths import ledger_path

if TYPE_CHECKING:
    # Imported where used: `queue list` and `jobs show` need the ledger, never the catalog's loader.
    from ourvidz_cli.catalog.resolve import JobSpec
    from ourvidz_cli.catalog.schema import Catalog
    from ourvidz_cli.ledger import Ledger


@dataclass(frozen=True)
class Settings:
    home: Path
    config: Path | None = None
    smoke: bool = False


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home

    def catalog_path(self) -> Path:
        if self.settings.smoke:
            from ourvidz_cli.engine.models.smoke import smoke_catalog_path

            return smoke_catalog_path(self.home)
        if self.settings.config:
            return self.settings.config

        from ourvidz_cli.catalog.load import packaged_catalog_path

        env = os.environ.get("OURVIDZ_CONFIG")
        return Path(env) if env else packaged_catalog_path()

    @cached_property
    def catalog(self) -> Catalog:
        if self.settings.smoke:
            from ourvidz_cli.engine.models import smoke

            if not smoke.is_built(self.home):
                # stderr: a first run pauses here for seconds, and stdout must stay data.
                print(f"building tiny random-weight smoke models in {self.home / 'smoke'} (once) …",
                      file=sys.stderr)
                self.ensure_smoke(force=False)
            smoke.refresh_catalog(self.home)
        from ourvidz_cli.catalog.load import load_catalog

        return load_catalog(self.catalog_path())

    def ensure_smoke(self, force: bool) -> Path:
        from ourvidz_cli.engine.models.smoke import init_smoke

        return init_smoke(self.home, force=force)

    @cached_property
    def ledger(self) -> Ledger:
        from ourvidz_cli.ledger import Ledger

        return Ledger(ledger_path(self.home))

    def engine(self, device: str | None = None, vram_budget: str | None = None, compile_: bool = False,
               on_start: Any = None) -> Any:
        """A lazy handle on the shared engine (torch is imported only when a model loads)."""
        from ourvidz_cli.engine.models.handle import EngineHandle

        return EngineHandle(device, vram_budget, compile_, on_start=on_start or (lambda _: None))

    def resolve(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> JobSpec:
        from ourvidz_cli.catalog.resolve import resolve_job

        return resolve_job(self.catalog, job_type, prompt, overrides, home=self.home)

    def enqueue(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> list[int]:
        spec = self.resolve(job_type, prompt, overrides)  # before the ledger opens: bad input writes nothing
        return self.ledger.queue.add([spec])

    def enqueue_combinations(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> list[int]:
        """Every expansion of a template's {a|b} and __wildcards__ as its own job (at most 1,000)."""
        from ourvidz_cli.prompts.wildcards import Expander

        every = Expander(self.home / "wildcards").every(prompt, 1000)
        specs = [self.resolve(job_type, text, {**overrides, "template": prompt}) for text in every]
        return self.ledger.queue.add(specs)

    def enqueue_pair(self, job_type: str, prompt: str, overrides: dict[str, Any]) -> list[int]:
        """An enhanced job and its raw-prompt twin (--ab), queued together."""
        from ourvidz_cli.catalog.resolve import raw_twin

        spec = self.resolve(job_type, prompt, overrides)
        return self.ledger.queue.add_pair(spec, raw_twin(spec, 0))

    def enqueue_file(self, path: Path, defaults: dict[str, Any]) -> list[int]:
        """Validate every line first; a bad line means no job from the file is queued."""
        specs, pictures = self._from_file(path, defaults)
        for prepared in pictures:  # only once every line resolved
            from ourvidz_cli.library.inputs import store

            store(self.home, prepared)
        return self.ledger.queue.add(specs)

    def specs_from_file(self, path: Path, defaults: dict[str, Any]) -> list[JobSpec]:
        return self._from_file(path, defaults)[0]

    def _from_file(self, path: Path, defaults: dict[str, Any]) -> tuple[list[JobSpec], list[Any]]:
        from ourvidz_cli.catalog.jobfile import read_jobs

        specs, pictures = [], []
        for line, fields in read_jobs(path):
            fields = {**{k: v for k, v in defaults.items() if v is not None}, **fields}
            job_type, prompt = fields.pop("type", None), fields.pop("prompt", None)
            if not job_type:
                raise UsageError(f"{path}:{line}: no job type; each job needs \"type\" and \"prompt\"")
            try:
                pictures += _pictures(path.parent, fields)
                specs.append(self.resolve(str(job_type), prompt, fields))
            except UsageError as exc:
                raise UsageError(f"{path}:{line}: {exc}; nothing was queued") from None
        return specs, pictures

    def rerun_spec(self, job_id: int, seed: Any = None) -> JobSpec:
        from ourvidz_cli.catalog.resolve import respec

        return respec(self.ledger.jobs.get(job_id), seed)


def _pictures(folder: Path, fields: dict[str, Any]) -> list[Any]:
    """A job file's input files (paths relative to the file) checked, and named as stored: "image",
    "mask", "video", "first_frame", "last_frame", and "refs" (one path or a list)."""
    from ourvidz_cli.library.inputs import inspect
    from ourvidz_cli.library.video_inputs import inspect_video

    def checked(key: str, given: Any) -> Any:
        given = str(given)
        path = given if "://" in given or Path(given).is_absolute() else str(folder / given)
        if key == "video":
            return inspect_video(path, '"video"')
        return inspect(path, f'"{key}"', key == "mask", bool(fields.get("invert_mask")))

    found = []
    for key in ("image", "mask", "video", "first_frame", "last_frame"):
        if fields.get(key):
            found.append(checked(key, fields[key]))
            fields[key] = found[-1].name
    if fields.get("refs"):
        refs = fields["refs"] if isinstance(fields["refs"], list) else [fields["refs"]]
        found += [checked("refs", ref) for ref in refs]
        fields["refs"] = [p.name for p in found[len(found) - len(refs):]]
    return found
