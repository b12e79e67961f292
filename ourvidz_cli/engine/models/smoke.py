"""The smoke profile: a tiny model of every family, built offline (random weights; Qwen's are
trained for seconds so it answers in words).

They are the real diffusers/transformers classes with tokenizers built locally and saved with
save_pretrained, so loading and generation run exactly the code that real weights run. Each family
builds its own (`Family.build_smoke`); the smoke catalog points model `<kind>` at `models/<kind>`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ourvidz_cli.catalog.load import smoke_overlay_path
from ourvidz_cli.engine.families.registry import FAMILIES
from ourvidz_cli.paths import smoke_dir


def smoke_catalog_path(home: Path) -> Path:
    return smoke_dir(home) / "models.toml"


def refresh_catalog(home: Path) -> None:
    """Keep an existing smoke home's catalog in step with this release's overlay."""
    catalog = smoke_catalog_path(home)
    wanted = smoke_overlay_path().read_text(encoding="utf-8")
    if catalog.is_file() and catalog.read_text(encoding="utf-8") != wanted:
        catalog.write_text(wanted, encoding="utf-8")


def is_built(home: Path) -> bool:
    from ourvidz_cli.engine.models import smoke_extras

    root = smoke_dir(home)
    return smoke_catalog_path(home).is_file() and smoke_extras.built(root) and all(
        (root / "models" / kind / ".complete").is_file() for kind in FAMILIES)


def init_smoke(home: Path, force: bool = False) -> Path:
    """Build whatever smoke model is missing, then write the smoke catalog; returns its path."""
    from ourvidz_cli.engine.models import libraries

    libraries.quiet()
    root = smoke_dir(home)
    for kind, fam in FAMILIES.items():
        target = root / "models" / kind
        if force or not (target / ".complete").is_file():
            # Build beside the target and rename, so an interrupted build is never taken as complete.
            staging = target.with_name(f".building-{kind}")
            shutil.rmtree(staging, ignore_errors=True)
            fam.build_smoke(staging)
            (staging / ".complete").write_text("built by ourvidz models init-smoke\n")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    from ourvidz_cli.engine.models import smoke_extras

    smoke_extras.build(root, force)  # after the SDXL it is made from
    catalog = smoke_catalog_path(home)
    catalog.write_text(smoke_overlay_path().read_text(encoding="utf-8"), encoding="utf-8")
    return catalog
