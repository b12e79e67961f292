"""LoRAs per job: `--lora NAME[:WEIGHT]` (repeatable) and `<lora:NAME:WEIGHT>` in a prompt, resolved the
same way: a catalog `[loras.NAME]` entry (path, or repo + weight_name), then `<home>/loras/NAME.safetensors`;
`--lora` also takes a path to a .safetensors file. Each is recorded with its file's sha256 and weight.

A file is refused (exit 2) when it is missing, not safetensors, or its tensor names belong to another
model family than the job's (an SDXL LoRA's `unet`/`lora_te` keys on Wan, Wan's `blocks.` keys on SDXL).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import AdapterRef
from ourvidz_cli.errors import UsageError

TAG = re.compile(r"<lora:([^:>]+)(?::\s*([^>]*))?>")
WEIGHTS = (-5.0, 5.0)
# Tensor names of each family's LoRAs (diffusers, kohya and ComfyUI layouts).
MARKERS = {"sdxl": re.compile(r"unet|lora_te|^text_encoder"),
           "wan": re.compile(r"^(transformer|diffusion_model)\.blocks\.|^lora_unet_blocks_")}


def strip_tags(prompt: str) -> str:
    """The prompt the encoders read: LoRA tags removed, as AUTOMATIC1111 and sd.cpp do."""
    return " ".join(TAG.sub(" ", prompt).split()) if TAG.search(prompt) else prompt


def _weight(raw: str | None, where: str) -> float:
    try:
        weight = 1.0 if raw in (None, "") else float(str(raw))
    except ValueError:
        raise UsageError(f"{where}: weight {raw!r} is not a number") from None
    if not WEIGHTS[0] <= weight <= WEIGHTS[1]:
        raise UsageError(f"{where}: weight {weight:g} is outside [{WEIGHTS[0]:g}, {WEIGHTS[1]:g}]")
    return weight


def _split(spec: str) -> tuple[str, str | None]:
    """NAME[:WEIGHT], where NAME may be a path holding colons."""
    name, sep, tail = spec.rpartition(":")
    if sep and re.fullmatch(r"\s*[+-]?[\d.]+\s*", tail):
        return name, tail
    return spec, None


def header_keys(path: Path, where: str) -> list[str]:
    try:
        with open(path, "rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > path.stat().st_size - 8:
                raise ValueError("header past the end")
            return [k for k in json.loads(fh.read(length)) if k != "__metadata__"]
    except (OSError, ValueError, struct.error):
        raise UsageError(f"{where}: {path} is not a safetensors file; LoRAs are taken as .safetensors") from None


def _families(keys: list[str]) -> list[str]:
    """The model families whose LoRA tensor names appear among `keys`."""
    return [kind for kind, marker in MARKERS.items() if any(marker.search(k) for k in keys)]


def _check_family(path: Path, kind: str, where: str) -> None:
    found = _families(header_keys(path, where))
    if found and kind not in found:
        raise UsageError(f"{where}: {path.name} is a LoRA for {found[0]} models, not for {kind}")


def _file(name: str, catalog_loras: dict[str, Any], lora_dir: Path | None, where: str) -> tuple[Path, str]:
    """The LoRA file a name stands for, and the name it is recorded under."""
    if name in catalog_loras:
        entry = catalog_loras[name]
        if entry.local:
            return Path(entry.source), name
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(entry.source, entry.weight_name, revision=entry.revision)), name
        except Exception as exc:  # noqa: BLE001  hub, network and auth errors become one line
            raise UsageError(f"{where}: LoRA {name} could not be fetched from {entry.source} ({exc})"[:300]) from None
    if lora_dir is not None and (lora_dir / f"{name}.safetensors").is_file():
        return lora_dir / f"{name}.safetensors", name
    path = Path(name).expanduser()
    if path.suffix == ".safetensors" and path.is_file():
        return path.resolve(), path.stem
    known = sorted(catalog_loras) + sorted(p.stem for p in lora_dir.glob("*.safetensors")) if lora_dir and \
        lora_dir.is_dir() else sorted(catalog_loras)
    raise UsageError(f"{where}: no LoRA named {name!r} (catalog [loras], {lora_dir or 'the loras folder'}, or a "
                     f".safetensors path); known: {', '.join(known) or 'none'} (see 'ourvidz loras')")


def sha256_of(path: Path) -> str:
    """The file's sha256, hashed once per content state (a LoRA of hundreds of MB, named by every job)."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def job_loras(prompt: str, specs: list[str], kind: str, catalog_loras: dict[str, Any],
              lora_dir: Path | None) -> tuple[AdapterRef, ...]:
    """The prompt's tags, then the --lora flags (a name given twice: the later weight wins)."""
    wanted: dict[str, tuple[str, float, str]] = {}
    for name, raw in TAG.findall(prompt):
        wanted[name.strip()] = (name.strip(), _weight(raw, f"<lora:{name}>"), f"<lora:{name}>")
    for spec in specs:
        name, raw = _split(str(spec))
        wanted[name] = (name, _weight(raw, f"--lora {spec}"), f"--lora {spec}")
    out = []
    for name, weight, where in wanted.values():
        path, recorded = _file(name, catalog_loras, lora_dir, where)
        if path.suffix != ".safetensors":
            raise UsageError(f"{where}: {path} is not a .safetensors file")
        _check_family(path, kind, where)
        out.append(AdapterRef(recorded, str(path), weight, sha256_of(path)))
    return tuple(out)


def family_of(path: Path) -> str | None:
    """The model family a LoRA file's tensor names belong to, when they say."""
    return next(iter(_families(header_keys(path, path.name))), None)
