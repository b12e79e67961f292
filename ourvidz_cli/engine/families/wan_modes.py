"""Which diffusers pipeline a Wan job runs, always on the loaded Wan components (no second load):

- text-to-video (and a one-frame clip as an image): `WanPipeline` itself;
- video-to-video, or an image type's `--image` as a one-frame clip: `WanVideoToVideoPipeline.from_pipe`;
- reference frames (first frame, last frame, subject references): `WanVACEPipeline` built from the Wan
  pipeline's UMT5 encoder, tokenizer and VAE around the separately loaded VACE transformer, with the
  catalog's flow shift for VACE.
"""

from __future__ import annotations

from typing import Any

from ourvidz_cli.engine.families import diffusers_common as common
from ourvidz_cli.engine.families import samplers
from ourvidz_cli.engine.families.request import GenRequest

GRAY = (128, 128, 128)  # VACE's "nothing known here" frame, as in diffusers' and Wan's own examples


def pick(pipe: Any, req: GenRequest) -> tuple[Any, dict[str, Any], int]:
    """The pipeline to call, its mode's own arguments, and the denoising steps that will run."""
    if req.first_frame is not None or req.last_frame is not None or req.refs:
        return _vace(pipe, req), _frames_in(req), req.steps
    scheduler = samplers.for_job(samplers.WAN, pipe.scheduler, req.sampler, req.shift)
    chosen = {"scheduler": scheduler} if scheduler is not None else {}
    if req.video is not None or req.image is not None:
        from diffusers import WanVideoToVideoPipeline

        clip = req.video if req.video is not None else [req.image]
        # diffusers runs int(steps x strength) of the schedule.
        steps_run = max(1, min(int(req.steps * req.strength), req.steps))
        extra = {"video": clip, "strength": req.strength, "width": req.width, "height": req.height}
        return common.quiet(WanVideoToVideoPipeline.from_pipe(pipe, **chosen)), extra, steps_run
    if chosen:
        pipe = common.quiet(type(pipe).from_pipe(pipe, **chosen))
    return pipe, {"width": req.width, "height": req.height, "num_frames": req.frames or 1}, req.steps


def _vace(pipe: Any, req: GenRequest) -> Any:
    from diffusers import WanVACEPipeline

    if req.companion is None:
        raise ValueError("reference frames need the VACE transformer, which was not loaded")
    # The job's sampler and shift first; else VACE's own flow shift from the catalog.
    shift = req.shift if req.shift is not None else req.vace_flow_shift
    scheduler = samplers.for_job(samplers.WAN, pipe.scheduler, req.sampler, shift) or pipe.scheduler
    return common.quiet(WanVACEPipeline(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder, vae=pipe.vae,
                                        scheduler=scheduler, transformer=req.companion))


def _frames_in(req: GenRequest) -> dict[str, Any]:
    """VACE's conditioning: known frames where given, gray elsewhere; the mask is black where a frame is
    known (kept) and white where VACE paints."""
    from PIL import Image

    size, frames = (req.width, req.height), req.frames or 1
    extra: dict[str, Any] = {"width": req.width, "height": req.height, "num_frames": frames}
    if req.refs:
        extra["reference_images"] = list(req.refs)
    if req.first_frame is None and req.last_frame is None:
        return extra
    video = [Image.new("RGB", size, GRAY) for _ in range(frames)]
    mask = [Image.new("L", size, 255) for _ in range(frames)]
    for at, frame in ((0, req.first_frame), (frames - 1, req.last_frame)):
        if frame is not None:
            video[at], mask[at] = frame, Image.new("L", size, 0)
    return {**extra, "video": video, "mask": mask}
