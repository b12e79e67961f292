"""Where each catalog model resolves on this machine, without loading it or touching the network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ourvidz_cli.catalog import Catalog, Model

# The file whose presence says a saved model is complete enough to load, per model kind.
MARKERS = {"sdxl": "model_index.json", "wan": "model_index.json", "qwen": "config.json"}


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
    return f"hf download {model.repo}"


def locate(model: Model, catalog: Catalog) -> Location:
    marker = MARKERS.get(model.kind, "config.json")
    hint = fetch_hint(model, catalog)
    if model.path is not None:
        path = model.path
        present = path.is_file() or (path / marker).is_file()
        return Location(model.name, model.kind, str(path), present, str(path) if path.exists() else None,
                        _size(path) if present else None, hint)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = Path(snapshot_download(str(model.repo), local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return Location(model.name, model.kind, str(model.repo), False, None, None, hint)
    present = (snapshot / marker).is_file()
    return Location(model.name, model.kind, str(model.repo), present, str(snapshot),
                    _size(snapshot) if present else None, hint)
