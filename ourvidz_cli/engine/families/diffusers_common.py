"""What every diffusers family does the same way at load time: LoRAs fused once, optional compile,
and the low-memory settings an out-of-memory retry switches on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import Lora
from ourvidz_cli.engine.families.base import at_revision


def fuse_loras(pipe: Any, loras: Sequence[Lora]) -> None:
    """Load each LoRA (a file, folder or repo id) and fuse them at their weights: no per-step cost."""
    if not loras:
        return
    names = []
    for i, lora in enumerate(loras):
        name = f"lora{i}"
        source = lora.source
        kwargs: dict[str, Any] = {"weight_name": lora.weight_name} if lora.weight_name else {}
        kwargs |= at_revision(lora)
        if source.endswith(".safetensors") and "/" in source and not lora.weight_name:
            path = Path(source)
            if path.is_file():
                source, kwargs = str(path.parent), {"weight_name": path.name}
        pipe.load_lora_weights(source, adapter_name=name, **kwargs)
        names.append(name)
    pipe.set_adapters(names, adapter_weights=[lora.weight for lora in loras])
    pipe.fuse_lora(adapter_names=names)
    pipe.unload_lora_weights()  # the fused weights stay; the separate adapter copies go


MAX_ADAPTERS = 8  # LoRAs kept loaded per pipeline; the least recently used beyond that are deleted


def apply_adapters(pipe: Any, adapters: Sequence[Any]) -> list[str]:
    """Make exactly this job's LoRAs active on the loaded pipeline, as named adapters (keyed by content):
    one already loaded is not loaded again, a job without any runs with them all off, and the least
    recently used beyond MAX_ADAPTERS are deleted (diffusers #8532: adapters piling up leak memory).
    Returns what it did, for the job's log."""
    kept: list[str] = getattr(pipe, "_ourvidz_adapters", [])
    notes = []
    for adapter in adapters:
        key = f"a{adapter.sha256[:16]}"
        if key in kept:
            kept.remove(key)
        else:
            path = Path(adapter.path)
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=key)
            notes.append(f"LoRA {adapter.name} loaded as adapter {key} ({path})")
        kept.append(key)
    wanted = [f"a{a.sha256[:16]}" for a in adapters]
    stale = [k for k in kept[:-MAX_ADAPTERS] if k not in wanted] if len(kept) > MAX_ADAPTERS else []
    if stale:
        pipe.delete_adapters(stale)
        notes.append(f"adapters {', '.join(stale)} deleted (more than {MAX_ADAPTERS} kept)")
        kept = [k for k in kept if k not in stale]
    pipe._ourvidz_adapters = kept
    if wanted:
        pipe.enable_lora()
        pipe.set_adapters(wanted, adapter_weights=[a.weight for a in adapters])
    elif kept:
        pipe.disable_lora()
    return notes


def maybe_compile(pipe: Any, attr: str, enabled: bool) -> None:
    if enabled:
        import torch

        setattr(pipe, attr, torch.compile(getattr(pipe, attr), mode="max-autotune-no-cudagraphs"))


def offload(pipe: Any, device: str, in_ram: str | None) -> None:
    """Model CPU offload: each component moves to `device` for its forward and back after. A component
    kept in RAM (`in_ram`: Wan's UMT5 encoder, ~23 GB in float32) is left out of the hooks: under one it
    would be moved onto the device on the first prompt, which is the memory the retry is short of."""
    kept = getattr(pipe, in_ram) if in_ram else None
    if kept is not None:
        setattr(pipe, in_ram, None)  # type: ignore[arg-type]  # offload hooks only what the pipeline holds
    try:
        pipe.enable_model_cpu_offload(device=device)
    finally:
        if kept is not None:
            setattr(pipe, in_ram, kept)  # type: ignore[arg-type]


def low_memory(pipe: Any, device: str, in_ram: str | None = None) -> list[str]:
    """Switch a loaded pipeline to its low-memory settings; returns what was switched on."""
    done = []
    if device.startswith("cuda"):
        offload(pipe, device, in_ram)
        done.append("cpu_offload")
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        for switch in ("enable_tiling", "enable_slicing"):
            if hasattr(vae, switch):
                getattr(vae, switch)()
                done.append(switch.removeprefix("enable_"))
    return done


def quiet(pipe: Any) -> Any:
    """A pipeline without diffusers' own progress bar (ours is the reporter's); `from_pipe` and a
    pipeline built from loaded components do not carry the setting over."""
    pipe.set_progress_bar_config(disable=True)
    return pipe
