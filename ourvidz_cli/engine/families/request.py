"""What a generation pipeline is asked for and what it hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ourvidz_cli.catalog.job import JobConfig

StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenRequest:
    prompt: str
    negative: str
    steps: int
    width: int
    height: int
    frames: int | None
    count: int
    guidance: float
    seed: int

    @classmethod
    def from_config(cls, prompt: str, config: JobConfig) -> GenRequest:
        return cls(prompt=prompt, negative=config.negative, steps=config.steps, width=config.width,
                   height=config.height, frames=config.frames, count=config.count, guidance=config.guidance,
                   seed=config.seed)


@dataclass
class Generated:
    """Images as PIL images; videos as uint8 arrays shaped (frames, height, width, 3)."""

    sampler: str
    images: list[Any] = field(default_factory=list)
    videos: list[Any] = field(default_factory=list)


def step_callback(on_step: StepCallback, total: int) -> Callable[..., dict[str, Any]]:
    """Adapt our (done, total) callback to diffusers' callback_on_step_end."""

    def callback(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        on_step(step + 1, total)
        return kwargs

    return callback
