"""Deterministic kernels for `rerun --exact`: the same pixels from the same weights on the same GPU.

cuBLAS picks reduction orders by workspace and cuDNN benchmarks algorithms per shape, so two runs of
one job can differ in the last bits on CUDA; TF32 matmuls round differently again. These settings
trade some speed for repeatability (PyTorch's "Reproducibility" notes). An op with no deterministic
kernel warns (the warning lands in the job's log) instead of failing the rerun.
"""

from __future__ import annotations

import os
from typing import Any

# Must be in the environment before cuBLAS creates its handle, i.e. before the first CUDA matmul.
CUBLAS_WORKSPACE = ":4096:8"


def make_deterministic() -> dict[str, Any]:
    """Switch this process to deterministic kernels; returns the settings as torch now reports them."""
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return current()


def current() -> dict[str, Any]:
    import torch

    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32": torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
