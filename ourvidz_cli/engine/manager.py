"""The model manager: owns every loaded pipeline, keeps warm what fits a memory budget, evicts the
least recently used model when a new one does not fit.

Sizes come from the weights on disk (safetensors headers, at the load dtype), so the decision is made
before anything is loaded. On CPU the budget applies to RAM. Importing this module imports torch.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ourvidz_cli.engine import libraries

libraries.quiet()

import torch  # noqa: E402  (after the libraries are told to be quiet)

from ourvidz_cli.catalog.job import ModelRef  # noqa: E402
from ourvidz_cli.engine.device import dtype_name, pick_device, pick_dtype  # noqa: E402
from ourvidz_cli.engine.families.registry import family  # noqa: E402
from ourvidz_cli.engine.model_store import estimate_bytes, parse_bytes  # noqa: E402
from ourvidz_cli.errors import OurvidzError  # noqa: E402

HEADROOM_BYTES = 2 * 2**30  # activations, the CUDA context and the allocator's slack
Key = tuple[str, str, str, str]


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
        self.split_encoder = self.device != "cpu" if split_encoder is None else split_encoder
        self.budget = budget or device_budget(self.device)
        self._resident: OrderedDict[Key, Resident] = OrderedDict()
        self.loads = 0
        self.evictions = 0
        self.compile = False

    def set_budget(self, budget: int | None) -> None:
        self.budget = budget or device_budget(self.device)

    def key(self, model: ModelRef) -> Key:
        """Everything that changes what is loaded: the same weights with another LoRA or VAE, or
        compiled, are another pipeline."""
        extras = json.dumps([[lora.to_dict() for lora in model.loras], model.vae, model.config, self.compile],
                            sort_keys=True)
        return (model.kind, model.source, model.dtype, extras)

    def resident_sources(self) -> list[str]:
        return [key[1] for key in self._resident]

    def resident_bytes(self) -> int:
        return sum(r.bytes for r in self._resident.values())

    def evict(self, key: Key) -> None:
        resident = self._resident.pop(key)
        del resident
        self.evictions += 1
        free_device_memory(self.device)

    def _plan(self, model: ModelRef, dtype: str) -> tuple[int, str]:
        """The bytes this model will take and the mode that makes it fit, evicting LRU models first."""
        full = estimate_bytes(model, dtype) or 0
        need, mode = full, "full"
        part = family(model.kind).ram_component
        if part and self.split_encoder and full > self.budget:
            need, mode = estimate_bytes(model, dtype, skip=(part,)) or 0, f"{part}_on_cpu"
        while self._resident and self.resident_bytes() + need > self.budget:
            self.evict(next(iter(self._resident)))
        return need, mode

    def get(self, model: ModelRef) -> tuple[Any, float]:
        """The loaded pipeline for a model, and the seconds spent loading it now (0 if warm)."""
        key = self.key(model)
        if key in self._resident:
            self._resident.move_to_end(key)  # the OrderedDict's order is the LRU order
            return self._resident[key].loaded, 0.0
        dtype = pick_dtype(model.dtype, self.device)
        need, mode = self._plan(model, dtype_name(dtype))
        started = time.perf_counter()
        try:
            loaded = family(model.kind).load(model, self.device, dtype, mode=mode, compile_=self.compile)
        except (OSError, ValueError) as exc:
            raise _load_error(model, exc) from exc
        self._resident[key] = Resident(model.name, loaded, need, mode)
        self.loads += 1
        return loaded, time.perf_counter() - started

    def mode(self, model: ModelRef) -> str | None:
        resident = self._resident.get(self.key(model))
        return resident.mode if resident else None

    def drop(self, model: ModelRef) -> None:
        """Forget a model (after an out-of-memory fallback changed how it is placed)."""
        key = self.key(model)
        if key in self._resident:
            self._resident.pop(key)
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
