"""Reading back what the outputs carry: PNG text chunks, and MP4 container metadata through ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path


def png_text(path: Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as img:
        return {str(k): str(v) for k, v in getattr(img, "text", {}).items()}


def _unescape_ffmetadata(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


def mp4_metadata(path: Path) -> dict[str, str]:
    """The container's global tags (title, comment, encoder), as ffprobe's format tags show them.

    imageio-ffmpeg ships ffmpeg but not ffprobe; ffmpeg's `ffmetadata` muxer prints the same tags.
    """
    import imageio_ffmpeg

    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True, text=True, timeout=60,
    )
    if proc.returncode != 0:
        raise ValueError(f"ffmpeg could not read {path}: {proc.stderr.strip().splitlines()[-1:]}")
    tags: dict[str, str] = {}
    lines: list[str] = []
    for raw in proc.stdout.split("\n"):
        # A value's newline is written as backslash + newline: glue those lines back together.
        if lines and lines[-1].endswith("\\") and (len(lines[-1]) - len(lines[-1].rstrip("\\"))) % 2 == 1:
            lines[-1] = lines[-1] + "\n" + raw
        else:
            lines.append(raw)
    for line in lines:
        if line.startswith(";") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        tags[key.strip().lower()] = _unescape_ffmetadata(value)
    return tags


def video_frames(path: Path) -> int:
    import imageio_ffmpeg

    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return int(frames)
