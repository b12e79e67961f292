"""Loads each model once per process and keeps it for the jobs that follow."""

from __future__ import annotations

import importlib
import time
from typing import Any

from ourvidz_cli.errors import OurvidzError
from ourvidz_cli.pipelines import FAMILIES
from ourvidz_cli.pipelines.device import pick_device, pick_dtype


def _quiet_libraries() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


_quiet_libraries()


class ModelLoadError(OurvidzError):
    """A model could not be loaded from where the catalog says it is."""


class Engine:
    def __init__(self, device: str | None = None) -> None:
        self.device = pick_device(device)
        self._loaded: dict[tuple[str, str, str], Any] = {}
        self.loads = 0

    def family(self, kind: str) -> Any:
        try:
            return importlib.import_module(FAMILIES[kind])
        except KeyError:
            raise OurvidzError(f"model kind '{kind}' is not supported; use one of {', '.join(FAMILIES)}") from None

    def get(self, model: dict[str, Any]) -> tuple[Any, float]:
        """The loaded pipeline for a model config, and the seconds spent loading it now (0 if warm)."""
        key = (model["kind"], model["source"], model["dtype"])
        if key in self._loaded:
            return self._loaded[key], 0.0
        family = self.family(model["kind"])
        dtype = pick_dtype(model["dtype"], self.device)
        started = time.perf_counter()
        try:
            loaded = family.load(model["source"], self.device, dtype)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if model.get("local"):
                where = "folder"
                fix = "check it holds a saved pipeline (smoke models: ourvidz models init-smoke --force)"
            else:
                where = "Hugging Face repo"
                fix = f"download it (huggingface-cli download {model['source']}) or point models.toml at a local copy"
            raise ModelLoadError(
                f"model '{model['name']}' could not be loaded from {where} {model['source']}: {first}; {fix}"
            ) from exc
        self._loaded[key] = loaded
        self.loads += 1
        return loaded, time.perf_counter() - started


_ENGINES: dict[str, Engine] = {}


def shared_engine(device: str | None = None) -> Engine:
    """One engine per device per process, so consecutive jobs reuse warm models."""
    engine = Engine(device)
    return _ENGINES.setdefault(engine.device, engine)
