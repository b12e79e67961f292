"""A video a job takes in (`--video`, video-to-video): checked by decoding its header and first frame
before anything is written, stored content-addressed like an image input (library.inputs), and read back
as the job's frames at the job's rate and size.

A clip shorter than the job holds its last frame to the job's length (the job log says so): Wan's clip
lengths are 4k+1 frames, which few source clips match exactly.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import UsageError
from ourvidz_cli.library.inputs import MAX_PIXELS, Prepared, fit_to, local_file

MAX_BYTES = 2 * 2**30
_EXTS = ("mp4", "webm", "mov", "mkv", "avi", "gif", "m4v")


def inspect_video(given: str, role: str = "--video") -> Prepared:
    """Check a video file without writing anything; UsageError (exit 2) with what to do."""
    path = local_file(given, role, "video")
    if path.stat().st_size > MAX_BYTES:
        raise UsageError(f"{role} {path}: over {MAX_BYTES // 2**30} GiB; trim it first")
    _not_a_still(path, f"{role} {path}")
    width, height = _probe(path, f"{role} {path}")
    if width * height > MAX_PIXELS:
        raise UsageError(f"{role} {path}: {width}x{height} frames are over the {MAX_PIXELS:,}-pixel cap; scale it down")
    data = path.read_bytes()
    ext = path.suffix.lower().lstrip(".")
    return Prepared(data, hashlib.sha256(data).hexdigest(), ext if ext in _EXTS else "mp4")


def _not_a_still(path: Path, what: str) -> None:
    """ffmpeg reads a PNG as a one-frame video; a still picture wants the flags made for it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            still = not getattr(image, "is_animated", False)
    except (UnidentifiedImageError, OSError):
        return
    if still:
        raise UsageError(f"{what}: a still picture, not a video; give it as --first-frame (or --image on an "
                         "image type)")


def _probe(path: Path, what: str) -> tuple[int, int]:
    """The frame size, once ffmpeg decoded a first frame (a file that is not a video fails here)."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = reader.__next__()
        next(reader)
        reader.close()
    except (RuntimeError, OSError, StopIteration, KeyError) as exc:
        first = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        raise UsageError(f"{what}: not a video ffmpeg can read ({first[0][:120]}); give an MP4 or WebM") from None
    width, height = meta["size"]
    return int(width), int(height)


def load_video(home: Path, name: str, width: int, height: int, frames: int, fps: int, fit: str) -> list[Any]:
    """The stored video as `frames` RGB pictures at `fps`, fit to width x height."""
    import imageio_ffmpeg
    from PIL import Image

    path = home / name
    if not path.is_file():
        raise UsageError(f"the job's input {path} is gone from the data home; it cannot run without it")
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"fps={fps}"])
    meta = reader.__next__()
    size = tuple(meta["size"])
    out = []
    for raw in reader:
        out.append(fit_to(Image.frombytes("RGB", size, raw), width, height, fit))
        if len(out) == frames:
            break
    reader.close()
    if len(out) < frames:
        warnings.warn(f"input {name}: {len(out)} frames at {fps} fps, fewer than the job's {frames}; the last "
                      "frame is held", stacklevel=2)
        out += [out[-1]] * (frames - len(out))
    return out
