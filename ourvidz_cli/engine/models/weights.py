"""The weight files a model's loader will read, and how much device memory they take, from their headers
only (nothing is loaded). A Hugging Face snapshot holds more than the loader reads: fp16 variants beside
the full files, a single-file checkpoint beside the diffusers folders, folders no pipeline component
names (SDXL's `vae_1_0/`, ONNX exports); counting them all made SDXL look about three times its size."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

# Bytes per element of the dtypes a model loads in.
ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}
SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                        "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
FLOATS = ("F32", "F16", "BF16", "F64")
# A pickle stream starts with PROTO; torch.save's zip format is a zip holding data.pkl.
PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def safetensors_elements(path: Path) -> list[tuple[int, str]]:
    """(element count, dtype) per tensor, read from the file's JSON header without loading it."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("shorter than a safetensors header")
        (length,) = struct.unpack("<Q", head)
        if length > path.stat().st_size - 8:
            raise ValueError(f"header length {length} is past the end of the file")
        header = json.loads(fh.read(length))
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in info["shape"]:
            count *= dim
        out.append((count, info["dtype"]))
    return out


def check_checkpoint(path: Path) -> None:
    """Raise ValueError when a single-file checkpoint cannot be what its suffix says."""
    if path.suffix == ".ckpt":
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if not any(n.endswith("data.pkl") for n in archive.namelist()):
                    raise ValueError("a zip without data.pkl, not a torch checkpoint")
            return
        with open(path, "rb") as fh:
            if fh.read(2) not in PICKLE_MAGIC:
                raise ValueError("neither a torch zip checkpoint nor a pickle")
        return
    safetensors_elements(path)


def pipeline_components(model_index: dict[str, object]) -> list[str]:
    """The components a pipeline's model_index.json names (entries like `[null, null]` are unused slots)."""
    return [name for name, spec in model_index.items()
            if not name.startswith("_") and isinstance(spec, list) and spec[0] is not None]


# The names diffusers' and transformers' from_pretrained read (without a `variant`), sharded or not.
CANONICAL = ("diffusion_pytorch_model.safetensors", "model.safetensors")


def _folder_weights(folder: Path) -> list[Path]:
    """What from_pretrained reads from one folder: the shards its index names, else its one weights file.
    Other files beside them (fp16 variants, `sdxl_vae.safetensors` in a VAE repo) are never read."""
    for name in CANONICAL:
        index = folder / f"{name}.index.json"
        if index.is_file():
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
            return [folder / shard for shard in sorted(shards)]
        if (folder / name).is_file():
            return [folder / name]
    return []


def loaded_weights(root: Path) -> dict[str, list[Path]]:
    """Weight files by component ("" for a model that is one folder or one file)."""
    if root.is_file():
        return {"": [root]}
    index = root / "model_index.json"
    if not index.is_file():
        return {"": _folder_weights(root)}
    components = pipeline_components(json.loads(index.read_text(encoding="utf-8")))
    return {name: _folder_weights(root / name) for name in components if (root / name).is_dir()}


def weight_bytes(files: list[Path], itemsize: int) -> int:
    """Device bytes: floating tensors at `itemsize`, others as stored; the file size when no header."""
    total = 0
    for f in files:
        try:
            total += sum(count * (itemsize if stored in FLOATS else SAFETENSORS_ITEMSIZE.get(stored, 1))
                         for count, stored in safetensors_elements(f))
        except (OSError, ValueError, KeyError):
            total += f.stat().st_size if f.exists() else 0
    return total


def pull_patterns(model_index: dict[str, object]) -> list[str]:
    """snapshot_download allow patterns for the components a pipeline's model_index.json names."""
    return ["model_index.json"] + [f"{name}/*.{ext}" for name in pipeline_components(model_index)
                                   for ext in ("json", "txt", "model", "safetensors", "jinja")]
