"""Which device and dtype a model runs on."""

from __future__ import annotations

import os

import torch

from ourvidz_cli.engine.models.device_names import check_device_name
from ourvidz_cli.engine.models.residency import load_dtype
from ourvidz_cli.errors import UsageError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pick_device(preference: str | None = None) -> str:
    """CUDA, then MPS, then CPU, unless --device / OURVIDZ_DEVICE says otherwise."""
    wanted = check_device_name(preference or os.environ.get("OURVIDZ_DEVICE") or "auto")
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device '{wanted}' was asked for but this torch build sees no CUDA GPU; use --device cpu")
    return wanted


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]


def pick_dtype(name: str, device: str) -> torch.dtype:
    return DTYPES[load_dtype(name, device)]
