"""Joining a project's finished scene videos, in order, into one MP4 with ffmpeg's concat demuxer."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from ourvidz_cli.errors import OurvidzError
from ourvidz_cli.outputs import TEMP_PREFIX


def concat(clips: list[Path], dest: Path) -> None:
    """Stream copy when every clip shares codec, size and rate (scenes of one job type do); a
    re-encode otherwise, so a project whose scenes were re-run at another size still joins."""
    import imageio_ffmpeg

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TEMP_PREFIX}{os.getpid()}-{dest.name}")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        for clip in clips:
            # The concat list quotes paths in single quotes; a quote inside is written '\''.
            listing.write("file '" + str(clip.resolve()).replace("'", "'\\''") + "'\n")
    try:
        for codec in (["-c", "copy"], ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]):
            proc = subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i",
                 listing.name, *codec, "-movflags", "+faststart", str(tmp)],
                capture_output=True, text=True, timeout=600,
            )
            if proc.returncode == 0:
                os.replace(tmp, dest)
                return
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise OurvidzError(f"ffmpeg could not join {len(clips)} clips into {dest}: {last}")
    finally:
        Path(listing.name).unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
