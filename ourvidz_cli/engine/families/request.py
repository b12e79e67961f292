"""What a generation pipeline is asked for and what it hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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
    image: Any = None  # PIL, fit to width x height: image-to-image starts from it
    mask: Any = None  # PIL "L", white repaints: inpainting
    strength: float = 1.0

    @classmethod
    def from_config(cls, prompt: str, config: JobConfig, home: Path | None = None) -> GenRequest:
        """`home` holds the job's input files (library.inputs), when it has any."""
        image = mask = None
        strength = 1.0
        if config.inputs is not None and home is not None:
            from ourvidz_cli.library.inputs import load

            given, w, h = config.inputs, config.width, config.height
            image, strength = load(home, given.image, w, h, given.fit), given.strength
            if given.mask:
                mask = load(home, given.mask, w, h, given.fit, mask=True, invert=given.invert_mask)
        return cls(prompt=prompt, negative=config.negative, steps=config.steps, width=config.width,
                   height=config.height, frames=config.frames, count=config.count, guidance=config.guidance,
                   seed=config.seed, image=image, mask=mask, strength=strength)


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
