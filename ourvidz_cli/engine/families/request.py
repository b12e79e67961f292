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
    video: Any = None  # PIL frames, fit: video-to-video starts from them
    first_frame: Any = None  # PIL, fit: reference frames through VACE
    last_frame: Any = None
    refs: tuple[Any, ...] = ()  # PIL at their own size: subject references
    companion: Any = None  # the loaded VACE transformer, for a job with reference frames
    vace_flow_shift: float | None = None
    sampler: str | None = None  # a name from the family's sampler table; None: the pipeline's own scheduler
    shift: float | None = None  # flow shift (Wan)
    weighting: bool = False  # read the prompt's weighting syntax (jobs from before it: literal text)
    adapters: tuple[Any, ...] = ()  # catalog.job.AdapterRef: LoRAs for this job, as named adapters
    variation_seed: int | None = None
    variation_strength: float = 0.0
    per_image: tuple[str, ...] = ()  # one prompt per image (an SDXL batch's own wildcard picks)

    @classmethod
    def from_config(cls, prompt: str, config: JobConfig, home: Path | None = None) -> GenRequest:
        """`home` holds the job's input files (library.inputs), when it has any."""
        given = _inputs(config, home) if config.inputs is not None and home is not None else {}
        per_image = config.per_image
        if config.weighting:  # <lora:...> tags are the job's LoRAs (config.adapters), not words to encode
            from ourvidz_cli.catalog.loras import strip_tags

            prompt, per_image = strip_tags(prompt), tuple(strip_tags(p) for p in per_image)
        return cls(prompt=prompt, negative=config.negative, steps=config.steps, width=config.width,
                   height=config.height, frames=config.frames, count=config.count, guidance=config.guidance,
                   seed=config.seed, vace_flow_shift=config.vace.flow_shift if config.vace else None,
                   sampler=config.sampler, shift=config.shift, weighting=config.weighting,
                   adapters=config.adapters, variation_seed=config.variation_seed,
                   variation_strength=config.variation_strength or 0.0, per_image=per_image, **given)


def _inputs(config: JobConfig, home: Path) -> dict[str, Any]:
    """The job's stored inputs read back as the pipelines take them."""
    from ourvidz_cli.library.inputs import load, picture

    given, w, h = config.inputs, config.width, config.height
    assert given is not None
    out: dict[str, Any] = {"strength": given.strength}
    if given.image:
        out["image"] = load(home, given.image, w, h, given.fit)
    if given.mask:
        out["mask"] = load(home, given.mask, w, h, given.fit, mask=True, invert=given.invert_mask)
    for key in ("first_frame", "last_frame"):
        if getattr(given, key):
            out[key] = load(home, getattr(given, key), w, h, given.fit)
    if given.refs:
        out["refs"] = tuple(picture(home, name) for name in given.refs)
    if given.video:
        from ourvidz_cli.library.video_inputs import load_video

        out["video"] = load_video(home, given.video, w, h, config.frames or 1, config.fps, given.fit)
    return out


@dataclass
class Generated:
    """Images as PIL images; videos as uint8 arrays shaped (frames, height, width, 3)."""

    sampler: str
    images: list[Any] = field(default_factory=list)
    videos: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the job's log (which LoRAs were loaded now)


def step_callback(on_step: StepCallback, total: int) -> Callable[..., dict[str, Any]]:
    """Adapt our (done, total) callback to diffusers' callback_on_step_end."""

    def callback(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        on_step(step + 1, total)
        return kwargs

    return callback
