"""A reproducible bundle: one zip holding a job's outputs and everything needed to make them again (the
full resolved config, the prompt Qwen gave, each model's and LoRA's identity with its revision and the
sha256 of its weights' index, the package versions, device and dtype), and the comparison a rerun of it
ends with: the pixels match exactly, or by how much they differ.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.fingerprint import model_identity
from ourvidz_cli.catalog.job import ModelRef
from ourvidz_cli.catalog.revisions import pin_config
from ourvidz_cli.engine.models.residency import load_dtype
from ourvidz_cli.errors import UsageError

FORMAT = "ourvidz-bundle/1"
MANIFEST = "bundle.json"
PACKAGES = ("ourvidz", "torch", "diffusers", "transformers", "safetensors", "numpy", "pillow")
_INDEX_NAMES = ("model_index.json", "config.json", "model.safetensors.index.json")


def _index_sha256(source: str, local: bool, revision: str | None = None) -> str | None:
    """The sha256 of the file that names a model's weights: its index JSON, or a single-file checkpoint's
    safetensors header (hashing gigabytes of weights would take minutes)."""
    from ourvidz_cli.engine.models.model_store import resolve_local

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
    entry = {**model_identity(model), "index_sha256": _index_sha256(model.source, model.local, model.revision)}
    if model.vae:
        entry["vae_index_sha256"] = _vae_sha256(model)
    return entry


def _vae_sha256(model: ModelRef) -> str | None:
    from ourvidz_cli.catalog.revisions import hub_vae

    return _index_sha256(str(model.vae), not hub_vae(model), model.vae_revision)


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
        "inputs": [{"name": name, "sha256": Path(name).stem} for name in input_names(config)],
    }


def input_names(config: Any) -> list[str]:
    """The files a job took in (library.inputs), by their names in the data home."""
    return config.inputs.files() if config.inputs else []


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
        for entry in info["inputs"]:  # named by their sha256: `read` checks them like the outputs
            zf.write(home / entry["name"], entry["name"])
    partial.replace(dest)
    return info


# Only the layout `write` makes: a bundle is untrusted input (absolute names or `..` once made the
# comparison read the rerun's own files and report a match it never checked).
_OUTPUT_NAME = re.compile(r"outputs/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(png|mp4)")
_INPUT_NAME = re.compile(r"inputs/[0-9a-f]{64}\.(png|jpg|webp|bmp|gif|tif|mp4|webm|mov|mkv|avi|m4v)")
MAX_MANIFEST_BYTES = 10 * 2**20
MAX_OUTPUT_BYTES = 4 * 2**30
MAX_RATIO = 50  # `write` stores PNG and MP4 uncompressed; a member that inflates far past its size is a bomb


class BadBundle(Exception):
    pass


def read(path: Path, into: Path) -> dict[str, Any]:
    """The manifest, each output extracted under `into` (its path in the entry's `file`) and checked
    against the manifest's sha256; anything but a bundle's own layout is refused."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = _manifest(zf)
            outputs = info.get("outputs")
            if not isinstance(outputs, list) or not outputs:
                raise BadBundle("its manifest lists no outputs")
            names = [e.get("name") if isinstance(e, dict) else None for e in outputs]
            if len(set(map(str, names))) != len(names):
                raise BadBundle("its manifest names one output twice")
            for entry in outputs:
                entry["file"] = str(_extract(zf, entry, into))
            for entry in info.get("inputs") or []:
                entry["file"] = str(_extract(zf, entry, into, _INPUT_NAME))
                if Path(entry["name"]).stem != entry.get("sha256"):
                    raise BadBundle(f"{entry['name']} is not named by its own sha256")
    except BadBundle as exc:
        raise UsageError(f"{path} is not a bundle ourvidz can trust: {exc}") from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError, AttributeError, TypeError) as exc:
        raise UsageError(f"{path} is not an ourvidz bundle ({exc}); make one with 'ourvidz assets bundle ID'") from None
    return info


def _manifest(zf: zipfile.ZipFile) -> dict[str, Any]:
    if zf.getinfo(MANIFEST).file_size > MAX_MANIFEST_BYTES:
        raise BadBundle(f"its {MANIFEST} is over {MAX_MANIFEST_BYTES // 2**20} MB")
    info = json.loads(zf.read(MANIFEST))
    if not isinstance(info, dict):
        raise BadBundle(f"its {MANIFEST} is not an object")
    if info.get("format") != FORMAT:
        raise UsageError(f"a bundle of format {info.get('format')!r}; this ourvidz reads {FORMAT}")
    return info


def _extract(zf: zipfile.ZipFile, entry: dict[str, Any], into: Path, layout: re.Pattern[str] = _OUTPUT_NAME) -> Path:
    name = entry.get("name")
    if not isinstance(name, str) or not layout.fullmatch(name):
        raise BadBundle(f"member name {str(name)[:80]!r} is not a bundle's layout (outputs/<file>.png or .mp4, "
                        "inputs/<sha256>.<ext>)")
    member = zf.getinfo(name)
    if member.file_size > MAX_OUTPUT_BYTES or member.file_size > MAX_RATIO * max(member.compress_size, 2**20):
        raise BadBundle(f"{name} unpacks to {member.file_size} bytes from {member.compress_size} (a zip bomb?)")
    dest = into / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with zf.open(member) as src, open(dest, "wb") as out:
        while chunk := src.read(2**20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry.get("sha256"):
        raise BadBundle(f"{name} does not match the sha256 its manifest records")
    return dest


def model_notes(info: dict[str, Any], used: list[ModelRef]) -> list[str]:
    """Whether each model a rerun uses is the one the bundle was made with."""
    notes = []
    for then, now in zip(info["models"], used, strict=False):
        sha = _index_sha256(now.source, now.local, now.revision)
        same = sha is not None and sha == then.get("index_sha256")
        where = "" if now.source == then["source"] else f" (from {now.source}; the bundle's was {then['source']})"
        notes.append(f"model {now.name}: {'the same weights index' if same else 'a different weights index'}{where}")
        if now.vae:
            vae_same = _vae_sha256(now) is not None and _vae_sha256(now) == then.get("vae_index_sha256")
            notes.append(f"model {now.name}'s VAE {now.vae}: {'the same' if vae_same else 'a different'} config")
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
