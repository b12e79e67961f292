"""Writing a job's outputs into bucket folders, with the metadata each format carries.

Every file is written to a temp file in the same folder, fsynced, then renamed: a crash at any point
leaves either the finished file or none where it belongs, never half a file. `write_assets` owns the
file names, the A1111 `parameters` chunk, the JSON chunk and the MP4 tags, and returns the asset rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ourvidz_cli import __version__
from ourvidz_cli.library import a1111
from ourvidz_cli.paths import outputs_dir

if TYPE_CHECKING:
    from ourvidz_cli.catalog.job import JobConfig

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
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """A rename is durable once its folder is synced."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _writer_gone(path: Path, older_than_s: float) -> bool:
    """A temp file's writer is gone when its pid (in the name) is dead here, or the file has not been
    touched for longer than a lease: another runner on the same home may be writing it right now."""
    import time

    from ourvidz_cli.queue import process_alive

    pid = path.name[len(TEMP_PREFIX):].split("-", 1)[0]
    if pid.isdigit() and not process_alive(int(pid)):
        return True
    try:
        return time.time() - path.stat().st_mtime > older_than_s
    except FileNotFoundError:
        return False


def remove_partials(folder: Path, older_than_s: float) -> int:
    """Delete temp files that killed processes left behind, never those of a live writer."""
    removed = 0
    if folder.is_dir():
        for stale in folder.rglob(f"{TEMP_PREFIX}*"):
            if _writer_gone(stale, older_than_s):
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


def _png_text(job: dict[str, Any], prompt: str, sampler: str, idx: int) -> dict[str, str]:
    import json

    config: JobConfig = job["config"]
    prompt = config.per_image[idx] if idx < len(config.per_image) and prompt == job["prompt"] else prompt
    record = {"job_id": job["id"], "uuid": job["uuid"], "type": job["type"], "prompt": job["prompt"],
              "enhanced_prompt": prompt if prompt != job["prompt"] else None, "negative_prompt": config.negative,
              "config": config.to_dict()}
    return {
        "parameters": a1111.format_parameters(prompt, config.negative, {
            "Steps": config.steps, **a1111.sampler_fields(sampler), "CFG scale": config.guidance,
            "Seed": config.seed, "Size": f"{config.width}x{config.height}", "Model": config.model.name,
            # AUTOMATIC1111's keys for img2img and inpainting (it blurs masks; ourvidz uses them as given).
            "Denoising strength": config.inputs.strength if config.inputs else None,
            "Mask blur": 0 if config.inputs and config.inputs.mask else None,
            "Variation seed": config.variation_seed, "Variation seed strength": config.variation_strength,
            "Job type": job["type"], "Version": f"ourvidz {__version__}",
        }),
        "ourvidz": json.dumps(record | {"index": idx}, sort_keys=True),
    }


def write_assets(home: Path, job: dict[str, Any], prompt: str, generated: Any,
                 stage: str | None = None) -> list[dict[str, Any]]:
    """Write every image or video of a generation result; returns one asset row per file. All or
    none: when one file fails (a full disk), the ones already written are removed.

    With `stage` (a token no other attempt uses) each file is written, durable, under a staged name
    beside its final one (`staged_path`); `promote` moves them into place once the attempt has won its
    fence, so an attempt that lost never touches the files of the one that won.

    `prompt` is the prompt the model was given (the enhanced one when Qwen rewrote it)."""
    assets: list[dict[str, Any]] = []
    try:
        _write_each(home, job, prompt, generated, assets, stage)
    except BaseException:
        remove_assets(home, assets, stage)
        raise
    return assets


def staged_path(home: Path, asset: dict[str, Any], stage: str | None) -> Path:
    """Where an attempt's file waits for its fence: a temp name that `remove_partials` clears once its
    writer is gone (the pid leads the name)."""
    final = home / asset["path"]
    return final if stage is None else final.with_name(f"{TEMP_PREFIX}{os.getpid()}-{stage}-{final.name}")


def promote(home: Path, assets: list[dict[str, Any]], stage: str) -> None:
    """The staged files of a winning attempt, renamed to their final names (atomic, directory fsynced)."""
    folders = set()
    for asset in assets:
        final = home / asset["path"]
        os.replace(staged_path(home, asset, stage), final)
        folders.add(final.parent)
    for folder in folders:
        _fsync_dir(folder)


def remove_assets(home: Path, assets: list[dict[str, Any]], stage: str | None = None) -> None:
    """Delete the files of asset rows that will not be recorded (a job that could not complete); with
    `stage`, only that attempt's staged files."""
    for asset in assets:
        staged_path(home, asset, stage).unlink(missing_ok=True)


def remove_unrecorded(home: Path, job_id: int) -> list[str]:
    """The files at a failed job's final names: an attempt killed between moving its files into place
    and recording them (a failed job records no outputs). Returns what was removed."""
    removed = []
    for path in outputs_dir(home).glob(f"*/{job_id}_*"):
        if path.name.split("_", 1)[0] == str(job_id) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(str(path.relative_to(home)))
    return removed


def _write_each(home: Path, job: dict[str, Any], prompt: str, generated: Any, assets: list[dict[str, Any]],
                stage: str | None) -> None:
    config: JobConfig = job["config"]
    items = generated.videos if config.is_video else generated.images
    for idx, item in enumerate(items):
        final = output_path(home, config.bucket, job["id"], idx, config.output)
        path = staged_path(home, {"path": str(final.relative_to(home))}, stage)
        if config.is_video:
            write_mp4(path, item, config.fps, {
                "title": prompt[:500], "comment": f"ourvidz job {job['id']} ({job['type']}, seed {config.seed})"})
            frames, height, width, fps = item.shape[0], item.shape[1], item.shape[2], config.fps
        else:
            write_png(path, item, _png_text(job, prompt, generated.sampler, idx))
            width, height, frames, fps = item.width, item.height, 1, None
        digest, size = sha256_and_size(path)
        assets.append({"idx": idx, "bucket": config.bucket, "path": str(final.relative_to(home)),
                       "kind": "video" if config.is_video else "image", "mime": config.mime, "bytes": size,
                       "sha256": digest, "width": width, "height": height, "frames": frames, "fps": fps})
