"""Which commit of a Hugging Face repo a job loads, so `rerun` loads the same weights next month.

When a job runs, each Hugging Face source it uses (the model, its LoRAs, the enhancer) is pinned to
the commit the local cache resolves its revision (default `main`) to; the job records them
(`revisions`, {source: commit}) and `rerun` pins its copy to those commits, even after `models pull`
moved `main`. Local folders have no commits: their identity (index file size and mtime) is in the
fingerprint. Reads the cache's refs directly, without importing huggingface_hub.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from ourvidz_cli.catalog.job import JobConfig, Lora, ModelRef

COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def resolve(repo: str, revision: str | None = None) -> str | None:
    """The commit `revision` (default `main`) of `repo` is in the local cache; None when it is not cached."""
    wanted = revision or "main"
    if COMMIT.fullmatch(wanted):
        return wanted
    ref = hub_cache() / f"models--{repo.replace('/', '--')}" / "refs" / wanted
    try:
        commit = ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return commit if COMMIT.fullmatch(commit) else None


def _pin_lora(lora: Lora, commits: dict[str, str]) -> Lora:
    if lora.local:
        return lora
    commit = commits.get(lora.source) or resolve(lora.source, lora.revision)
    return replace(lora, revision=commit) if commit else lora


def hub_vae(model: ModelRef) -> bool:
    """The replacement VAE is a Hugging Face repo (not a folder on this machine)."""
    return bool(model.vae) and not Path(str(model.vae)).is_absolute() and not Path(str(model.vae)).exists()


def pin_model(model: ModelRef, commits: dict[str, str] | None = None) -> ModelRef:
    """The model with every Hugging Face source at a commit (its replacement VAE too): from `commits` (a
    job's record) where it names the source, else what the cache resolves now. A source not in the
    cache stays as it is."""
    commits = commits or {}
    loras = tuple(_pin_lora(lora, commits) for lora in model.loras)
    vae_commit = None
    if hub_vae(model):
        vae_commit = commits.get(str(model.vae)) or resolve(str(model.vae), model.vae_revision)
    model = replace(model, loras=loras, vae_revision=vae_commit or model.vae_revision)
    if model.local:
        return model
    commit = commits.get(model.source) or resolve(model.source, model.revision)
    return replace(model, revision=commit or model.revision)


def pin_config(config: JobConfig, commits: dict[str, str] | None = None) -> JobConfig:
    enhancer = pin_model(config.enhancer, commits) if config.enhancer else None
    vace = pin_model(config.vace, commits) if config.vace else None
    return replace(config, model=pin_model(config.model, commits), enhancer=enhancer, vace=vace)


def commits_of(config: JobConfig) -> dict[str, str]:
    """{source: commit} for every Hugging Face source of a pinned config: what a job records."""
    found: dict[str, str] = {}
    for model in [config.model] + [m for m in (config.enhancer, config.vace) if m]:
        if not model.local and model.revision and COMMIT.fullmatch(model.revision):
            found[model.source] = model.revision
        for lora in model.loras:
            if not lora.local and lora.revision and COMMIT.fullmatch(lora.revision):
                found[lora.source] = lora.revision
        if model.vae and model.vae_revision and COMMIT.fullmatch(model.vae_revision):
            found[model.vae] = model.vae_revision
    return found
