"""Joining clips with real ffmpeg: same-format clips are stream-copied, clips of different sizes are
scaled and padded into one valid video, and the result's frames and size are checked."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np

from ourvidz_cli.library.concat import clip_format, concat
from ourvidz_cli.library.media import video_frames


def _clip(path: Path, width: int, height: int, frames: int, shade: int) -> Path:
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=16, macro_block_size=1)
    writer.send(None)
    for _ in range(frames):
        writer.send(np.full((height, width, 3), shade, np.uint8).tobytes())
    writer.close()
    return path


def test_clips_of_different_sizes_are_reencoded_into_one_valid_video(tmp_path: Path) -> None:
    tall = _clip(tmp_path / "tall.mp4", 48, 80, 5, 200)
    square = _clip(tmp_path / "square.mp4", 64, 64, 7, 40)
    joined = concat([tall, square], tmp_path / "out" / "joined.mp4")
    assert joined["joined_by"] == "re-encode"
    assert clip_format(tmp_path / "out" / "joined.mp4")[0] == (48, 80)
    assert video_frames(tmp_path / "out" / "joined.mp4") == 12
    # Every frame decodes, and the square clip sits padded inside the first clip's frame.
    frames = list(imageio_ffmpeg.read_frames(str(tmp_path / "out" / "joined.mp4")))[1:]
    last = np.frombuffer(frames[-1], np.uint8).reshape(80, 48, 3)
    assert len(frames) == 12 and last[40, 24].mean() < 80 and last[2, 24].mean() < 30  # dark clip, black pad


def test_clips_of_one_format_are_stream_copied(tmp_path: Path) -> None:
    clips = [_clip(tmp_path / f"{i}.mp4", 64, 64, 4, 100) for i in range(3)]
    joined = concat(clips, tmp_path / "joined.mp4")
    assert joined == {"joined_by": "stream copy", "size": [64, 64]}
    assert video_frames(tmp_path / "joined.mp4") == 12
