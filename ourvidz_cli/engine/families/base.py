"""The model-family seam: what ourvidz knows about a kind of model, declared in one module per family.

A family says which file marks a saved model as complete, what `models pull` fetches, which
components stay in float32, which component may stay in RAM when the device is short, how to build a
tiny random-weight copy for the smoke profile, and how to load and run it. Nothing outside
`families/` tests a model kind by name: it asks the registry (`families.family(kind)`).

Family modules import torch, diffusers and transformers inside their functions only, so the registry
itself is cheap to import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ourvidz_cli.catalog.job import Lora, ModelRef
from ourvidz_cli.engine.families.request import Generated, GenRequest, StepCallback

# What a pull fetches for a diffusers folder: the files the loaders read, not every format a repo ships
# (the SDXL base repo alone holds ~70 GB of ONNX, OpenVINO, fp16 variants and a single-file copy).
DIFFUSERS_ALLOW = ("model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.safetensors", "*/*.jinja")
DIFFUSERS_IGNORE = ("*.fp16.safetensors", "*.bin", "*.onnx", "*.onnx_data", "*.msgpack", "*openvino*", "*.ckpt")


def at_revision(source: ModelRef | Lora) -> dict[str, Any]:
    """from_pretrained's (or load_lora_weights') revision= for a Hugging Face source pinned to a commit."""
    return {"revision": source.revision} if source.revision and not source.local else {}


class Family(Protocol):
    kind: str
    marker: str  # the file whose presence says a saved model is complete enough to load
    pull_allow: tuple[str, ...]
    pull_ignore: tuple[str, ...]
    fp32_components: tuple[str, ...]  # subfolders loaded in float32 whatever the model's dtype
    ram_component: str | None  # a subfolder that may stay in RAM when the budget is tight

    def build_smoke(self, target: Path) -> None:
        """Save a tiny random-weight model of this family at `target` (offline, deterministic)."""

    def load(self, model: ModelRef, device: str, dtype: Any, mode: str, compile_: bool) -> Any:
        """The loaded pipeline; `mode` is "full" or "<ram_component>_on_cpu"."""


class Companion(Family, Protocol):
    """A family whose model makes nothing alone: another family's pipelines run it (VACE's transformer
    inside Wan's). `companion_of` names that family."""

    companion_of: str


class Generator(Family, Protocol):
    """A family that makes images or videos. `inputs` says, per output ("png", "mp4"), what a job may
    start from: "image", "mask", "video", "first_frame", "last_frame", "refs" (catalog.job_inputs)."""

    inputs: dict[str, tuple[str, ...]]

    def generate(self, pipe: Any, req: GenRequest, on_step: StepCallback) -> Generated: ...

    def low_memory(self, pipe: Any, device: str) -> list[str]:
        """Switch a loaded pipeline to its low-memory settings; returns what was switched on."""


class ChatModel(Family, Protocol):
    """A family that answers chat messages (the prompt enhancer)."""

    def chat(self, loaded: Any, messages: list[dict[str, str]], max_new_tokens: int) -> str: ...


