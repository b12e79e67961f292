"""A reproducible bundle: one zip holding a job's outputs and everything needed to make them again (the
full resolved config, the prompt Qwen gave, each model's and LoRA's identity with its revision and the
sha256 of its weights' index, the package versions, device and dtype), and the comparison a rerun of it
ends with: the pixels match exactly, or by how much they differ.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.fingerprint import model_identity
from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.catalog.revisions import pin_config
from ourvidz_cli.engine.residency import load_dtype
from ourvidz_cli.errors import UsageError

FORMAT = "ourvidz-bundle/1"
MANIFEST = "bundle.json"
PACKAGES = ("ourvidz", "torch", "diffusers", "transformers", "safetensors", "numpy", "pillow")
_INDEX_NAMES = ("model_index.json", "config.json", "model.safetensors.index.json")


def _index_sha256(source: str, local: bool, revision: str | None = None) -> str | None:
    """The sha256 of the file that names a model's weights: its index JSON, or a single-file checkpoint's
    safetensors header (hashing gigabytes of weights would take minutes)."""
    from ourvidz_cli.engine.model_store import resolve_local

    root = resolve_local(source, local, revision)
    if root is None:
        return None
    if root.is_file():
        with open(root, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            return hashlib.sha256(fh.read(min(size, 100_000_000))).hexdigest()
    for name in _INDEX_NAMES:
        if (root / name).is_file():
            return hashlib.sha256((root / name).read_bytes()).hexdigest()
    return None


def _model_entry(model: ModelRef) -> dict[str, Any]:
    return {**model_identity(model), "index_sha256": _index_sha256(model.source, model.local, model.revision)}


def packages() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def manifest(job: dict[str, Any], assets: list[dict[str, Any]]) -> dict[str, Any]:
    config = pin_config(job["config"], json.loads(job.get("revisions") or "{}"))  # the commits it loaded
    device = job.get("device") or "unknown"
    models = [config.model] + ([config.enhancer] if config.enhancer else [])
    return {
        "format": FORMAT, "created_at": time.time(), "job_id": job["id"], "type": job["type"],
        "prompt": job["prompt"], "enhanced_prompt": job["enhanced_prompt"], "seed": job["seed"],
        "priority": job["priority"], "max_attempts": job["max_attempts"], "config": config.to_dict(),
        "models": [_model_entry(m) for m in models], "packages": packages(), "device": device,
        "dtype": load_dtype(config.model.dtype, device.split(":")[0]),
        "outputs": [{"name": f"outputs/{Path(a['path']).name}", "sha256": a["sha256"], "kind": a["kind"],
                     "width": a["width"], "height": a["height"], "frames": a["frames"]} for a in assets],
    }


def write(dest: Path, job: dict[str, Any], assets: list[dict[str, Any]], home: Path) -> dict[str, Any]:
    """The zip at `dest` (written beside it, then renamed); its manifest."""
    missing = [a["path"] for a in assets if not (home / a["path"]).is_file()]
    if missing:
        raise UsageError(f"job {job['id']}'s output {missing[0]} is gone; a bundle needs the files it reproduces")
    info = manifest(job, assets)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".partial-{dest.name}")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG and MP4 are compressed
        zf.writestr(MANIFEST, json.dumps(info, indent=2, sort_keys=True))
        for asset, entry in zip(assets, info["outputs"], strict=True):
            zf.write(home / asset["path"], entry["name"])
    partial.replace(dest)
    return info


def read(path: Path, into: Path) -> dict[str, Any]:
    """The manifest, with the outputs extracted under `into`."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = json.loads(zf.read(MANIFEST))
            if info.get("format") != FORMAT:
                raise UsageError(f"{path} is a bundle of format {info.get('format')!r}; this ourvidz reads {FORMAT}")
            for entry in info["outputs"]:
                zf.extract(entry["name"], into)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise UsageError(f"{path} is not an ourvidz bundle ({exc}); make one with 'ourvidz assets bundle ID'") from None
    return info


def model_notes(info: dict[str, Any], used: list[ModelRef]) -> list[str]:
    """Whether each model a rerun uses is the one the bundle was made with."""
    notes = []
    for then, now in zip(info["models"], used, strict=False):
        sha = _index_sha256(now.source, now.local, now.revision)
        same = sha is not None and sha == then.get("index_sha256")
        where = "" if now.source == then["source"] else f" (from {now.source}; the bundle's was {then['source']})"
        notes.append(f"model {now.name}: {'the same weights index' if same else 'a different weights index'}{where}")
    return notes


def _pixels(path: Path) -> Any:
    import numpy as np

    if path.suffix == ".mp4":
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(str(path))
        width, height = next(reader)["size"]
        return np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader])
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def compare(before: list[Path], after: list[Path]) -> dict[str, Any]:
    """Pixel by pixel: exact, or the largest and mean absolute difference (0-255) per output."""
    import numpy as np

    if len(before) != len(after):
        return {"match": "differs", "why": f"{len(before)} outputs in the bundle, {len(after)} now", "comparison": []}
    rows = []
    for a_path, b_path in zip(before, after, strict=True):
        a, b = _pixels(a_path).astype(np.int16), _pixels(b_path).astype(np.int16)
        if a.shape != b.shape:
            rows.append({"output": str(b_path), "exact": False, "why": f"shape {a.shape} then, {b.shape} now"})
            continue
        diff = np.abs(a - b)
        rows.append({"output": str(b_path), "exact": not diff.any(), "max_diff": int(diff.max()),
                     "mean_diff": round(float(diff.mean()), 4)})
    exact = all(r["exact"] for r in rows)
    return {"match": "exact" if exact else "differs", "comparison": rows}
