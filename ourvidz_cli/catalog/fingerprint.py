"""A job's fingerprint: everything that decides its pixels, hashed, so a repeat of a finished request is
answered from its outputs instead of being rendered again.

It covers the type, prompt, enhanced prompt (or, before enhancement, everything that shapes Qwen's
answer), negative prompt, seed, steps, size, frames, guidance and count, and the identity of every
source the job loads (model, LoRAs, replacement VAE, enhancer): for local weights the size, modification
and inode change times and safetensors header hash of each weights file and index file, for Hugging Face repos the
commit the local cache resolves the revision to. A job's fingerprint is taken again when it runs
(`at_run`), from the commits it actually loads: a `models pull` between queueing and running files it
under what it loaded. Only jobs whose seed the user gave have one: a random seed asks for something new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import JobConfig, Lora, ModelRef
from ourvidz_cli.catalog.revisions import resolve
from ourvidz_cli.prompts.weights import has_syntax

# The files whose change means new weights: the index of a diffusers or transformers folder, and the
# weights themselves (a replaced UNet or LoRA file leaves the index as it was).
_INDEX_FILES = ("model_index.json", "config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".gguf")


def _file_identity(path: Path) -> str:
    """Any write, replacement or copy over the file changes its inode change time, which (unlike the
    modification time) cannot be set back: a touched file is a miss (rendered again), never a wrong hit.
    Hashing gigabytes of weights on every `generate` would cost seconds."""
    st = path.stat()
    identity = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    if path.suffix == ".safetensors":  # the header names every tensor, shape and offset: cheap to hash
        with open(path, "rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            identity += ":" + hashlib.sha256(fh.read(min(size, 100_000_000))).hexdigest()[:16]
    return identity


def _local_revision(source: str) -> str:
    path = Path(source)
    try:
        if path.is_file():
            return f"{path.name}:{_file_identity(path)}"
        files = sorted(p for p in path.rglob("*") if p.is_file() and (p.name in _INDEX_FILES or
                                                                       p.suffix in _WEIGHT_SUFFIXES))
    except OSError:
        return "unknown"
    if not files:
        return "unknown"
    listing = "\n".join(f"{p.relative_to(path)}:{_file_identity(p)}" for p in files)
    return "files:" + hashlib.sha256(listing.encode()).hexdigest()


def _hub_revision(repo: str, revision: str | None) -> str:
    """The commit the revision (default `main`) resolves to in the local Hugging Face cache."""
    return resolve(repo, revision) or f"not cached ({revision or 'main'})"


def _lora_identity(lora: Lora) -> dict[str, Any]:
    revision = _local_revision(lora.source) if lora.local else _hub_revision(lora.source, lora.revision)
    return {**lora.to_dict(), "revision": revision}


def _vae_identity(model: ModelRef) -> str | None:
    if not model.vae:
        return None
    from ourvidz_cli.catalog.revisions import hub_vae

    return _hub_revision(model.vae, model.vae_revision) if hub_vae(model) else _local_revision(model.vae)


def model_identity(model: ModelRef) -> dict[str, Any]:
    revision = _local_revision(model.source) if model.local else _hub_revision(model.source, model.revision)
    identity = {**model.to_dict(), "loras": [_lora_identity(x) for x in model.loras], "revision": revision}
    identity.pop("vae_revision", None)  # pinned or not, the VAE's identity is its resolved commit
    return {**identity, "vae_identity": _vae_identity(model)} if model.vae else identity


def at_run(job: dict[str, Any], pinned: JobConfig) -> str | None:
    """The fingerprint of a job as it runs, from the commits it loads (`pinned`); None when it has none.
    The same request as at queueing: a rerun's carries the prompt Qwen gave, a new job's does not."""
    if not job.get("fingerprint"):
        return None
    enhanced = job.get("enhanced_prompt") if job.get("rerun_of") and pinned.enhancer is not None else None
    return fingerprint(job["prompt"], pinned, enhanced)


def fingerprint(prompt: str, config: JobConfig, enhanced_prompt: str | None) -> str:
    c = config
    request = {
        "type": c.job_type, "prompt": prompt, "enhanced_prompt": enhanced_prompt, "negative": c.negative,
        "seed": c.seed, "steps": c.steps, "size": [c.width, c.height], "frames": c.frames, "guidance": c.guidance,
        "count": c.count, "fps": c.fps, "output": c.output, "model": model_identity(c.model),
        "enhancer": model_identity(c.enhancer) if c.enhancer else None,
        "enhance": c.enhance.to_dict() if c.enhance else None,
    }
    if c.inputs:  # the input files by their sha256 (in their names); text-only jobs keep their old hash
        request["inputs"] = c.inputs.to_dict()
    if c.vace:
        request["vace"] = model_identity(c.vace)
    if c.weighting and (has_syntax(prompt) or has_syntax(c.negative)):  # read as weights, not as text
        request["weighting"] = True
    if c.per_image:  # each image's own words
        request["per_image"] = list(c.per_image)
    if c.variation_seed is not None:
        request["variation"] = [c.variation_seed, c.variation_strength]
    if c.adapters:  # each LoRA by its content and weight
        request["adapters"] = [[a.sha256, a.weight] for a in c.adapters]
    if c.sampler is not None or c.shift is not None:  # chosen per job; the model's own scheduler hashes as before
        request["sampler"], request["shift"] = c.sampler, c.shift
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
