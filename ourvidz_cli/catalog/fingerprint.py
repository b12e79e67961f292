"""A job's fingerprint: everything that decides its pixels, hashed, so a repeat of a finished request is
answered from its outputs instead of being rendered again.

It covers the type, prompt, enhanced prompt (or, before enhancement, everything that shapes Qwen's
answer), negative prompt, seed, steps, size, frames, guidance and count, and each model's and LoRA's
identity with a revision: for local weights the size and modification time of their index file, for
Hugging Face repos the commit the local cache resolves `main` to. Only jobs whose seed the user gave have
one: a random seed is a request for something new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import JobConfig, Lora, ModelRef
from ourvidz_cli.catalog.revisions import resolve

# The file whose change means new weights, per layout (a diffusers folder, a transformers folder).
_INDEX_FILES = ("model_index.json", "config.json")


def _local_revision(source: str) -> str:
    path = Path(source)
    for candidate in [path / name for name in _INDEX_FILES] + [path]:
        try:
            st = candidate.stat()
        except OSError:
            continue
        if candidate.is_file():
            return f"{candidate.name}:{st.st_size}:{st.st_mtime_ns}"
    return "unknown"


def _hub_revision(repo: str, revision: str | None) -> str:
    """The commit the revision (default `main`) resolves to in the local Hugging Face cache."""
    return resolve(repo, revision) or f"not cached ({revision or 'main'})"


def _lora_identity(lora: Lora) -> dict[str, Any]:
    revision = _local_revision(lora.source) if lora.local else _hub_revision(lora.source, lora.revision)
    return {**lora.to_dict(), "revision": revision}


def model_identity(model: ModelRef) -> dict[str, Any]:
    revision = _local_revision(model.source) if model.local else _hub_revision(model.source, model.revision)
    return {**model.to_dict(), "loras": [_lora_identity(x) for x in model.loras], "revision": revision}


def fingerprint(prompt: str, config: JobConfig, enhanced_prompt: str | None) -> str:
    c = config
    request = {
        "type": c.job_type, "prompt": prompt, "enhanced_prompt": enhanced_prompt, "negative": c.negative,
        "seed": c.seed, "steps": c.steps, "size": [c.width, c.height], "frames": c.frames, "guidance": c.guidance,
        "count": c.count, "fps": c.fps, "output": c.output, "model": model_identity(c.model),
        "enhancer": model_identity(c.enhancer) if c.enhancer else None,
        "enhance": c.enhance.to_dict() if c.enhance else None,
    }
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
