"""The pictures a shared-queue item starts from, as the real app sends them: `metadata.reference_image_url`
or `config.image` (image-to-image; strength from `metadata.denoise_strength` or 1 - `reference_strength`),
`config.first_frame`, `config.last_frame` and `config.reference_images` (Wan reference frames through
VACE), each a signed URL fetched under remote.fetch's rules; and `metadata.exact_copy_mode`.

Exact copy, as the real SDXL worker applies it: strength at most 0.05, guidance 1.0, no negative prompt,
no enhancement, and an empty prompt allowed. Its 6-10 steps run `int(steps x strength)` = 0 denoising
steps, which diffusers refuses; the schedule is lengthened until exactly one step runs (20 at 0.05), which
is the same single lowest-noise step the real worker intends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ourvidz_cli.catalog.schema import LIMITS

EXACT_COPY_MAX_STRENGTH = 0.05
_FRAMES = {"first_frame": "first_frame", "last_frame": "last_frame", "reference_images": "refs"}


class RefusedReference(Exception):
    """A reference the worker will not use (unfetchable, not an image, a mode it does not run)."""


def _urls(data: dict[str, Any], config: dict[str, Any]) -> dict[str, list[str]]:
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    found: dict[str, list[str]] = {}
    image = meta.get("reference_image_url") or config.get("image")
    if image:
        found["image"] = [str(image)]
    for field, key in _FRAMES.items():
        value = config.get(field)
        if value:
            found[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if config.get("video"):
        raise RefusedReference("config.video: video-to-video from the shared queue is not run by this worker (a "
                               "clip is taken as --video on this machine); the job is not run as text-to-video")
    return found


def references(data: dict[str, Any], config: dict[str, Any],
               fetch: Callable[[str], Any] | None) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """The overrides naming the fetched pictures (and the strength), and the pictures to store."""
    urls = _urls(data, config)
    if not urls:
        return {}, ()
    if fetch is None:  # reading an item for its attempts only: nothing is fetched
        return {key: "inputs/unfetched" if key != "refs" else ["inputs/unfetched"] for key in urls}, ()
    from ourvidz_cli.remote.fetch import FetchRefused

    over: dict[str, Any] = {}
    pictures: list[Any] = []
    for key, given in urls.items():
        try:
            got = [fetch(url) for url in given]
        except FetchRefused as exc:
            raise RefusedReference(f"the reference image could not be used: {exc}") from None
        pictures += got
        over[key] = [p.name for p in got] if key == "refs" else got[0].name
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if "image" in over and meta.get("denoise_strength") is not None:
        over["strength"] = meta["denoise_strength"]
    elif "image" in over and meta.get("reference_strength") is not None:
        over["strength"] = round(1 - float(meta["reference_strength"]), 4)
    return over, tuple(pictures)


def exact_copy(over: dict[str, Any]) -> dict[str, Any]:
    """The settings exact-copy mode replaces (see the module's note on its steps)."""
    if "image" not in over:
        raise RefusedReference("metadata.exact_copy_mode needs a reference image (metadata.reference_image_url)")
    strength = min(float(over.get("strength", EXACT_COPY_MAX_STRENGTH)), EXACT_COPY_MAX_STRENGTH)
    if strength <= 0:
        raise RefusedReference(f"metadata.exact_copy_mode with strength {strength:g}: nothing would be denoised")
    steps = min(max(6, int(strength * 100)), 10)
    while int(steps * strength) < 1:  # diffusers runs int(steps x strength) steps and refuses none
        steps += 1
    if steps > LIMITS["steps"][1]:
        raise RefusedReference(f"metadata.exact_copy_mode with strength {strength:g} needs over "
                               f"{LIMITS['steps'][1]} steps for one denoising step")
    return {**over, "strength": strength, "guidance": 1.0, "negative": "", "steps": steps, "enhance": False}
