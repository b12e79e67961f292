"""Writing outputs into bucket folders: a temp file in the same folder, fsync, then rename.

A crash at any point leaves either the finished file or none where it belongs, never half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ourvidz_cli.paths import outputs_dir

TEMP_PREFIX = ".partial-"


def output_path(home: Path, bucket: str, job_id: int, idx: int, ext: str) -> Path:
    return outputs_dir(home) / bucket / f"{job_id}_{idx}.{ext}"


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name keeps the extension: ffmpeg picks the container from it.
    tmp = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def remove_partials(folder: Path) -> int:
    """Delete temp files a killed process left behind."""
    removed = 0
    if folder.is_dir():
        for stale in folder.rglob(f"{TEMP_PREFIX}*"):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


def write_png(path: Path, image: Any, text: dict[str, str]) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_itxt(key, value)
    with _atomic(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)


def write_mp4(path: Path, frames: Any, fps: int, metadata: dict[str, str]) -> None:
    """H.264, yuv420p (what every player and browser plays), frames as uint8 (F, H, W, 3)."""
    import imageio_ffmpeg

    count, height, width = frames.shape[0], frames.shape[1], frames.shape[2]
    params = ["-preset", "veryfast", "-crf", "18", "-movflags", "+faststart"]
    for key, value in metadata.items():
        params += ["-metadata", f"{key}={value}"]
    with _atomic(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (width, height),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=2,
            output_params=params,
            ffmpeg_log_level="error",
        )
        writer.send(None)
        for i in range(count):
            writer.send(frames[i].tobytes())
        writer.close()


def sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
