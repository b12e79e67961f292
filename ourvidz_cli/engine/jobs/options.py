"""How a runner runs: its device and memory budget, claim order, compilation, Qwen's batch, kernels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOptions:
    device: str | None = None
    vram_budget: str | None = None  # "20GB"; default: the device's memory minus headroom
    order: str = "smart"  # or "fifo"
    max_wait_s: float = 1800.0  # a job kept waiting behind other work this long runs next
    compile: bool = False
    # Qwen's batch while it is loaded: bounded, or the first output of a big backlog waits for every
    # answer (about 15 s each at the seed's figures). The rest are enhanced when Qwen next loads.
    enhance_batch: int = 32
    enhance_batch_s: float = 120.0
    deterministic: bool = False  # `rerun --exact`: engine.jobs.determinism's settings before anything loads
