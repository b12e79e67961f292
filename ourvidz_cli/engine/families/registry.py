"""The model families and their registry: the only place that maps a catalog `kind` to code."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.engine.families.qwen import FAMILY as QWEN
from ourvidz_cli.engine.families.sdxl import FAMILY as SDXL
from ourvidz_cli.engine.families.wan import FAMILY as WAN
from ourvidz_cli.engine.families.wan_vace import FAMILY as WAN_VACE
from ourvidz_cli.errors import CatalogError

FAMILIES: dict[str, Any] = {f.kind: f for f in (SDXL, WAN, WAN_VACE, QWEN)}


def family(kind: str) -> Any:
    """The family for a model kind (a Generator or a ChatModel, see base.py)."""
    try:
        return FAMILIES[kind]
    except KeyError:
        raise CatalogError(f"model kind '{kind}' is not supported; use one of {', '.join(FAMILIES)}") from None
