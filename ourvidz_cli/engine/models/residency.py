"""Which models stay loaded: the engine's placement and eviction policy, free of torch, so `queue plan`
replays a queue through the very rules a run applies, without loading anything.

A model's key is everything that changes what is loaded; its size comes from the weights on disk at the
load dtype; when it does not fit beside the resident models, the least recently used go first.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.engine.families.registry import family
from ourvidz_cli.engine.models.model_store import estimate_bytes

Key = tuple[str, str, str, str]


def model_key(model: ModelRef, compile_: bool) -> Key:
    """The same weights with another LoRA or VAE, or compiled, are another pipeline."""
    extras = json.dumps([[lora.to_dict() for lora in model.loras], model.vae, model.config, compile_, model.revision],
                        sort_keys=True)
    return (model.kind, model.source, model.dtype, extras)


def load_dtype(name: str, device: str) -> str:
    """The dtype a model is loaded in: half precision on CPU is slow and badly supported; MPS has no
    bfloat16 on older macOS."""
    if device == "cpu":
        return "float32"
    if device == "mps" and name == "bfloat16":
        return "float16"
    return name


def placement(model: ModelRef, dtype: str, budget: int, split_encoder: bool) -> tuple[int, str]:
    """The bytes the model will take and how it is placed: whole, or with its RAM-able component (the T5
    encoder) kept off the device when the whole does not fit the budget."""
    full = estimate_bytes(model, dtype) or 0
    part = family(model.kind).ram_component
    if part and split_encoder and full > budget:
        return estimate_bytes(model, dtype, skip=(part,)) or 0, f"{part}_on_cpu"
    return full, "full"


class Residency:
    """The resident models in least-recently-used order with their sizes (and, in the engine, the
    loaded pipelines)."""

    def __init__(self, budget: int, split_encoder: bool) -> None:
        self.budget, self.split_encoder = budget, split_encoder
        self.entries: OrderedDict[Key, tuple[int, Any]] = OrderedDict()

    def __contains__(self, key: Key) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[Key]:
        return iter(self.entries)

    def touch(self, key: Key) -> Any:
        """A hit: the model becomes the most recently used; returns what was stored with it."""
        self.entries.move_to_end(key)
        return self.entries[key][1]

    def bytes(self) -> int:
        return sum(size for size, _ in self.entries.values())

    def to_evict(self, need: int, keep: tuple[Key, ...] = ()) -> list[Key]:
        """The least recently used keys that must go for `need` more bytes to fit (never those in `keep`:
        a model the same job runs beside the one being loaded)."""
        out, held = [], self.bytes()
        for key, (size, _) in self.entries.items():
            if held + need <= self.budget:
                break
            if key in keep:
                continue
            out.append(key)
            held -= size
        return out

    def add(self, key: Key, size: int, value: Any) -> None:
        self.entries[key] = (size, value)

    def pop(self, key: Key) -> Any:
        return self.entries.pop(key)[1]
