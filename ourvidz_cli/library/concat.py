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


def render_project(ledger: Ledger, home: Path, name: str, out: Path | None = None) -> dict[str, Any]:
    """Join a finished storyboard project's scene videos, in order, into one MP4."""
    from ourvidz_cli.library.media import video_frames

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
    concat(clips, dest)
    ledger.projects.set_render(project["id"], str(dest))
    return {"project": name, "path": str(dest), "scenes": len(clips), "frames": video_frames(dest),
            "scene_frames": [video_frames(c) for c in clips]}
