"""The model manager: owns every loaded pipeline, keeps warm what fits a memory budget, evicts the
least recently used model when a new one does not fit.

Sizes come from the weights on disk (safetensors headers, at the load dtype), so the decision is made
before anything is loaded. On CPU the budget applies to RAM. Importing this module imports torch.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from typing import Any

from ourvidz_cli.engine.models import libraries

libraries.quiet()

import torch  # noqa: E402  (after the libraries are told to be quiet)

from ourvidz_cli.catalog.job import ModelRef  # noqa: E402
from ourvidz_cli.engine.families.registry import family  # noqa: E402
from ourvidz_cli.engine.models.device import dtype_name, pick_device, pick_dtype  # noqa: E402
from ourvidz_cli.engine.models.model_store import parse_bytes  # noqa: E402
from ourvidz_cli.engine.models.residency import Key, Residency, model_key, placement  # noqa: E402
from ourvidz_cli.errors import OurvidzError  # noqa: E402

HEADROOM_BYTES = 2 * 2**30  # activations, the CUDA context and the allocator's slack


class ModelLoadError(OurvidzError):
    """A model could not be loaded from where the catalog says it is."""


@dataclass
class Resident:
    name: str
    loaded: Any
    bytes: int
    mode: str  # "full", or how it was loaded to fit: "text_encoder_on_cpu"


def device_budget(device: str) -> int:
    """Default budget: the device's memory minus headroom (RAM on CPU)."""
    if device.startswith("cuda"):
        total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    else:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 16 * 2**30
    return max(total - HEADROOM_BYTES, total // 2)


def free_device_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _load_error(model: ModelRef, exc: Exception) -> ModelLoadError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if model.local:
        where, fix = "path", "check it holds a saved model (smoke models: ourvidz models init-smoke --force)"
    else:
        where = "Hugging Face repo"
        fix = f"fetch it with 'ourvidz models pull {model.name}' or point models.toml at a local copy"
    return ModelLoadError(f"model '{model.name}' could not be loaded from {where} {model.source}: {first}; {fix}")


class Engine:
    def __init__(self, device: str | None = None, budget: int | None = None,
                 split_encoder: bool | None = None) -> None:
        self.device = pick_device(device)
        # Keeping an encoder in RAM only pays when the device is not RAM already.
        split = self.device != "cpu" if split_encoder is None else split_encoder
        self.residency = Residency(budget or device_budget(self.device), split)
        self.loads = 0
        self.evictions = 0
        self.compile = False

    @property
    def budget(self) -> int:
        return self.residency.budget

    @property
    def split_encoder(self) -> bool:
        return self.residency.split_encoder

    def set_budget(self, budget: int | None) -> None:
        self.residency.budget = budget or device_budget(self.device)

    def key(self, model: ModelRef) -> Key:
        return model_key(model, self.compile)

    def resident_sources(self) -> list[str]:
        return [key[1] for key in self.residency]

    def resident_bytes(self) -> int:
        return self.residency.bytes()

    def evict(self, key: Key) -> None:
        resident = self.residency.pop(key)
        del resident
        self.evictions += 1
        free_device_memory(self.device)

    def evict_all_but(self, model: ModelRef, also: tuple[ModelRef, ...] = ()) -> list[str]:
        """Evict every other resident model (an out-of-memory retry needs all the device has); their names."""
        keep = {self.key(m) for m in (model, *also)}
        gone = [key for key in list(self.residency) if key not in keep]
        names = [self.residency.entries[key][1].name for key in gone]
        for key in gone:
            self.evict(key)
        return names

    def _plan(self, model: ModelRef, dtype: str, keep: tuple[Key, ...]) -> tuple[int, str]:
        """The bytes this model will take and the mode that makes it fit, evicting LRU models first."""
        need, mode = placement(model, dtype, self.budget, self.split_encoder)
        for key in self.residency.to_evict(need, keep):
            self.evict(key)
        return need, mode

    def get(self, model: ModelRef, beside: tuple[ModelRef, ...] = ()) -> tuple[Any, float]:
        """The loaded pipeline for a model, and the seconds spent loading it now (0 if warm). Models in
        `beside` (the same job's other model) are not evicted to make room."""
        key = self.key(model)
        if key in self.residency:
            return self.residency.touch(key).loaded, 0.0
        dtype = pick_dtype(model.dtype, self.device)
        need, mode = self._plan(model, dtype_name(dtype), tuple(self.key(m) for m in beside))
        started = time.perf_counter()
        try:
            loaded = family(model.kind).load(model, self.device, dtype, mode=mode, compile_=self.compile)
        except (OSError, ValueError) as exc:
            raise _load_error(model, exc) from exc
        self.residency.add(key, need, Resident(model.name, loaded, need, mode))
        self.loads += 1
        return loaded, time.perf_counter() - started

    def mode(self, model: ModelRef) -> str | None:
        key = self.key(model)
        return self.residency.entries[key][1].mode if key in self.residency else None

    def drop(self, model: ModelRef) -> None:
        """Forget a model (after an out-of-memory fallback changed how it is placed)."""
        key = self.key(model)
        if key in self.residency:
            self.residency.pop(key)
            free_device_memory(self.device)


_ENGINES: dict[str, Engine] = {}


def shared_engine(device: str | None = None, budget: str | int | None = None) -> Engine:
    """One engine per device per process, so consecutive jobs reuse warm models."""
    raw = budget if budget is not None else os.environ.get("OURVIDZ_VRAM_BUDGET")
    budget_bytes = parse_bytes(str(raw)) if raw not in (None, "") else None
    engine = Engine(device, budget_bytes)
    engine = _ENGINES.setdefault(engine.device, engine)
    engine.set_budget(budget_bytes)
    return engine


def release_all() -> None:
    """Evict every model of every shared engine (a library caller's `close()`)."""
    for engine in _ENGINES.values():
        for key in list(engine.residency):
            engine.evict(key)
