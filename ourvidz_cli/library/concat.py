"""Joining a project's finished scene videos, in order, into one MP4 with ffmpeg's concat demuxer."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError, UsageError
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.library.outputs import TEMP_PREFIX
from ourvidz_cli.paths import outputs_dir


def clip_format(path: Path) -> tuple[tuple[int, int], float, str]:
    """(width, height), frames per second and codec, as ffmpeg reads the clip's header."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(frames)
    except (RuntimeError, OSError, StopIteration) as exc:
        raise OurvidzError(f"{path} is not a readable video ({' '.join(str(exc).split())[:200]})") from None
    finally:
        frames.close()
    return tuple(meta["size"]), float(meta["fps"]), str(meta["codec"])  # type: ignore[return-value]


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return size[0] - size[0] % 2, size[1] - size[1] % 2  # yuv420p needs even sides


def _reencode_args(formats: list[tuple[tuple[int, int], float, str]]) -> list[str]:
    """One filter graph that scales (keeping the aspect, padding the rest) every clip to the first
    clip's size and rate, then joins them: a stream copy of mixed sizes makes a broken file."""
    (w, h), fps = _even(formats[0][0]), formats[0][1]
    fit = (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
           f"setsar=1,fps={fps:g},format=yuv420p")
    graph = ";".join(f"[{i}:v]{fit}[v{i}]" for i in range(len(formats)))
    graph += ";" + "".join(f"[v{i}]" for i in range(len(formats))) + f"concat=n={len(formats)}:v=1:a=0[out]"
    return ["-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "veryfast"]


def _ffmpeg(args: list[str], what: str) -> None:
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise OurvidzError(f"ffmpeg could not {what}: {last}")


def _stream_copy(clips: list[Path], tmp: Path, dest: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        for clip in clips:
            # The concat list quotes paths in single quotes; a quote inside is written '\''.
            listing.write("file '" + str(clip.resolve()).replace("'", "'\\''") + "'\n")
    try:
        _ffmpeg(["-f", "concat", "-safe", "0", "-i", listing.name, "-c", "copy", "-movflags", "+faststart",
                 str(tmp)], f"join {len(clips)} clips into {dest}")
    finally:
        Path(listing.name).unlink(missing_ok=True)


def join_clips(clips: list[Path], dest: Path) -> dict[str, Any]:
    """Join clips in order. A stream copy when every clip shares size, rate and codec (scenes of one
    job type do); a scale/pad re-encode otherwise. The result is checked (frames and size) before it
    replaces `dest`; returns how it was joined, its size and frames, and each clip's frames."""
    from ourvidz_cli.library.media import video_frames

    formats = [clip_format(c) for c in clips]
    scene_frames = [video_frames(c) for c in clips]
    copy = all(f == formats[0] for f in formats)
    size = formats[0][0] if copy else _even(formats[0][0])
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TEMP_PREFIX}{os.getpid()}-{dest.name}")
    try:
        if copy:
            _stream_copy(clips, tmp, dest)
        else:
            inputs = [a for c in clips for a in ("-i", str(c))]
            _ffmpeg([*inputs, *_reencode_args(formats), "-movflags", "+faststart", str(tmp)],
                    f"re-encode {len(clips)} clips of different sizes into {dest}")
        same_rate = all(f[1] == formats[0][1] for f in formats)
        frames = _verify(tmp, dest, size, sum(scene_frames) if same_rate else None)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return {"joined_by": "stream copy" if copy else "re-encode", "size": list(size), "frames": frames,
            "scene_frames": scene_frames}


def concat(clips: list[Path], dest: Path) -> dict[str, Any]:
    """`join_clips`, reporting only how the clips were joined and the joined size."""
    joined = join_clips(clips, dest)
    return {"joined_by": joined["joined_by"], "size": joined["size"]}


def _verify(joined: Path, dest: Path, size: tuple[int, int], frames: int | None) -> int:
    """The joined file's frame count, once its size (and frames, when known) are what they must be."""
    from ourvidz_cli.library.media import video_frames

    got_size, got_frames = clip_format(joined)[0], video_frames(joined)
    if got_size != size or (frames is not None and got_frames != frames):
        raise OurvidzError(f"the joined video for {dest} came out wrong ({got_frames} frames at "
                           f"{got_size[0]}x{got_size[1]}, expected {frames or 'about the clips'} at "
                           f"{size[0]}x{size[1]}); nothing was written")
    return got_frames


def render_project(ledger: Ledger, home: Path, name: str, out: Path | None = None) -> dict[str, Any]:
    """Join a finished storyboard project's scene videos, in order, into one MP4."""
    project = ledger.projects.get(name)
    first_job = ledger.jobs.get(project["scenes"][0]["job_id"])
    if not first_job["config"].is_video:
        raise UsageError(f"project '{name}' renders images ({project['job_type']}); only videos can be joined")
    clips, waiting = [], []
    for scene in project["scenes"]:
        videos = [a for a in scene["outputs"] if a["kind"] == "video"]
        if scene["status"] != "completed" or not videos:
            waiting.append(f"scene {scene['idx'] + 1} (job {scene['job_id']}: {scene['status']})")
            continue
        clips.append(home / videos[0]["path"])
    if waiting:
        raise OurvidzError(f"project '{name}' is not finished: {', '.join(waiting[:5])}"
                           f"{' …' if len(waiting) > 5 else ''}; run 'ourvidz queue run' first")
    dest = out or outputs_dir(home) / "videos" / f"{name}.mp4"
    joined = join_clips(clips, dest)
    ledger.projects.set_render(project["id"], str(dest))
    return {"project": name, "path": str(dest), "scenes": len(clips), **joined}
