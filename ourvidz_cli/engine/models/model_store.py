"""Where each catalog model resolves on this machine, without loading it or touching the network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import Lora, ModelRef
from ourvidz_cli.catalog.schema import Catalog, Model
from ourvidz_cli.engine.families.registry import family
from ourvidz_cli.engine.models.weights import (
    CANONICAL,
    ITEMSIZE,
    check_checkpoint,
    loaded_weights,
    pipeline_components,
    pull_patterns,
    safetensors_elements,
    weight_bytes,
)


@dataclass(frozen=True)
class Location:
    name: str
    kind: str
    source: str
    present: bool
    where: str | None
    bytes: int | None
    fetch: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "present": self.present,
                "where": self.where, "bytes": self.bytes, "fetch": self.fetch}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    # Hugging Face snapshots are symlinks into blobs/: count what they point at.
    return sum(p.resolve().stat().st_size for p in path.rglob("*") if p.is_file())


def fetch_hint(model: Model, catalog: Catalog) -> str:
    if model.path is not None:
        if catalog.smoke:
            return "ourvidz models init-smoke"
        return f"put the model at {model.path} or fix models.toml ({catalog.path})"
    return f"ourvidz models pull {model.name}"


def locate(model: Model, catalog: Catalog) -> Location:
    marker = family(model.kind).marker
    hint = fetch_hint(model, catalog)
    if model.path is not None:
        path = model.path
        present = path.is_file() or (path / marker).is_file()
        return Location(model.name, model.kind, str(path), present, str(path) if path.exists() else None,
                        _size(path) if present else None, hint)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = Path(snapshot_download(str(model.repo), revision=model.revision, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return Location(model.name, model.kind, str(model.repo), False, None, None, hint)
    present = (snapshot / marker).is_file()
    return Location(model.name, model.kind, str(model.repo), present, str(snapshot),
                    _size(snapshot) if present else None, hint)


def resolve_local(source: str, local: bool, revision: str | None = None) -> Path | None:
    """A folder or file holding the model (at `revision`) on this machine, or None when it is not here."""
    if local:
        path = Path(source)
        return path if path.exists() else None
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(source, revision=revision, local_files_only=True))
    except Exception:  # noqa: BLE001  not in the cache (or no hub library): nothing local to measure
        return None


def estimate_bytes(model: ModelRef, dtype: str | None = None, skip: tuple[str, ...] = ()) -> int | None:
    """Device memory the model's weights take once loaded in `dtype`: the files its loader reads, floating
    tensors at the load dtype's size (float32 for the family's float32 components), the catalog's
    replacement VAE instead of the snapshot's own. `skip` leaves out components kept off the device."""
    root = resolve_local(model.source, model.local, model.revision)
    if root is None:
        return None
    want = ITEMSIZE.get(dtype or model.dtype, 2)
    sub = getattr(family(model.kind), "weights_subfolder", None)
    root = root / sub if sub and root.is_dir() else root  # a family that loads one component of a repo
    fp32_parts = family(model.kind).fp32_components
    parts = loaded_weights(root)
    if model.vae and "vae" in parts:
        vae_root = resolve_local(model.vae, Path(model.vae).is_absolute())
        parts["vae"] = loaded_weights(vae_root)[""] if vae_root is not None else parts["vae"]
    total = sum(weight_bytes(files, 4 if part in fp32_parts else want)
                for part, files in parts.items() if part not in skip)
    if not any(parts.values()) and root.is_dir():
        total = sum(p.stat().st_size for p in root.rglob("*.bin"))
    return total


def parse_bytes(text: str) -> int:
    """'24GB', '24GiB', '500MB', '1.5G' or a plain byte count."""
    import re

    from ourvidz_cli.errors import UsageError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--vram-budget '{text}' is not a size like 20GB, 7.5GiB or 500MB")
    power = " kmgt".index(m.group(2) or " ")
    return int(float(m.group(1)) * 1024**power)


def pull(model: Model, catalog: Catalog) -> dict[str, Any]:
    """Download a repo model and its repo LoRAs into the Hugging Face cache (HF_HOME, HF_TOKEN and
    HF_HUB_OFFLINE are honoured by huggingface_hub itself). Local models are only checked."""
    from ourvidz_cli.errors import OurvidzError

    fetched: list[str] = []
    if model.path is not None:
        if not model.path.exists():
            raise OurvidzError(f"model '{model.name}' is a local path ({model.path}) that does not exist; "
                               f"{fetch_hint(model, catalog)}")
    else:
        from huggingface_hub import snapshot_download

        fam = family(model.kind)
        try:
            where = snapshot_download(str(model.repo), revision=model.revision,
                                      allow_patterns=_allow_patterns(str(model.repo), fam, model.revision),
                                      ignore_patterns=list(fam.pull_ignore))
        except Exception as exc:  # noqa: BLE001  hub, network and auth errors all become one line
            raise OurvidzError(f"could not download {model.repo} for model '{model.name}': "
                               f"{_first_line(exc)}") from None
        fetched.append(where)
    if model.vae and not Path(model.vae).exists():
        from huggingface_hub import snapshot_download

        try:
            # Only what AutoencoderKL.from_pretrained reads: VAE repos also ship single-file copies.
            fetched.append(snapshot_download(model.vae, allow_patterns=["config.json", CANONICAL[0]]))
        except Exception as exc:  # noqa: BLE001
            raise OurvidzError(f"could not download VAE {model.vae} for model '{model.name}': "
                               f"{_first_line(exc)}") from None
    fetched += [where for lora in model.loras for where in _pull_lora(model, lora)]
    loc = locate(model, catalog)
    return {"name": model.name, "source": model.source, "present": loc.present, "where": loc.where,
            "bytes": loc.bytes, "fetched": fetched}


def _pull_lora(model: Model, lora: Any) -> list[str]:
    """A repo LoRA's file into the cache (a local one is only checked); where it landed."""
    from ourvidz_cli.errors import OurvidzError

    if lora.local:
        if not Path(lora.source).exists():
            raise OurvidzError(f"model '{model.name}' LoRA {lora.source} does not exist")
        return []
    from huggingface_hub import hf_hub_download, snapshot_download

    try:
        if lora.weight_name:
            return [hf_hub_download(lora.source, lora.weight_name, revision=lora.revision)]
        return [snapshot_download(lora.source, revision=lora.revision, allow_patterns=["*.safetensors", "*.json"])]
    except Exception as exc:  # noqa: BLE001
        raise OurvidzError(f"could not download LoRA {lora.source} for model '{model.name}': "
                           f"{_first_line(exc)}") from None


def _allow_patterns(repo: str, fam: Any, revision: str | None) -> list[str]:
    """A pipeline fetches only the components its model_index.json names (SDXL's repo also holds
    `vae_1_0/`, which no pipeline reads); other families take their static patterns."""
    if fam.marker != "model_index.json":
        return list(fam.pull_allow)
    import json

    from huggingface_hub import hf_hub_download

    index = json.loads(Path(hf_hub_download(repo, "model_index.json", revision=revision)).read_text(encoding="utf-8"))
    return pull_patterns(index)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _json_ok(path: Path) -> str | None:
    import json

    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{path.name}: {exc}"
    return None


def check(model: Model, catalog: Catalog) -> list[str]:
    """Problems found by reading configs and weight headers only (no model is loaded)."""
    loc = locate(model, catalog)
    if not loc.present or loc.where is None:
        return [f"not on this machine ({loc.source}); {loc.fetch}"]
    root = Path(loc.where)
    problems: list[str] = []
    if root.is_file():
        if model.config is None:
            problems.append("a single-file checkpoint needs config = (a diffusers folder or repo) in models.toml")
        try:
            check_checkpoint(root)
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{root.name}: unreadable checkpoint ({exc})")
        return problems
    index = root / family(model.kind).marker
    bad = _json_ok(index)
    if bad:
        return [bad]
    if index.name == "model_index.json":
        import json

        for component in pipeline_components(json.loads(index.read_text())):
            folder = root / component
            configs = [p for p in folder.glob("*.json")] if folder.is_dir() else []
            if not configs:
                problems.append(f"{component}/ has no config")
            problems += [p for p in (_json_ok(c) for c in configs) if p]
    for weights in root.rglob("*.safetensors"):
        try:
            safetensors_elements(weights)
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{weights.relative_to(root)}: unreadable safetensors header ({exc})")
    if model.vae and resolve_local(model.vae, Path(model.vae).is_absolute()) is None:
        problems.append(f"VAE {model.vae} is not on this machine; ourvidz models pull {model.name}")
    for lora in model.loras:
        if lora.local and not Path(lora.source).exists():
            problems.append(f"LoRA {lora.source} does not exist")
        elif not lora.local and not _lora_cached(lora):
            problems.append(f"LoRA {lora.source} is not downloaded; ourvidz models pull {model.name}")
    return problems


def _lora_cached(lora: Lora) -> bool:
    from huggingface_hub import try_to_load_from_cache

    if lora.weight_name:
        return isinstance(try_to_load_from_cache(lora.source, lora.weight_name), str)
    return resolve_local(lora.source, False) is not None
