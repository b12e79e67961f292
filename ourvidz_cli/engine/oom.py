"""Out-of-memory handling: recognising it, and the switch that lets a test force it.

OURVIDZ_FAULT_OOM=N makes the next N generation attempts in this process raise torch's
OutOfMemoryError at their first denoising step, from inside the pipeline's call, as a CUDA
allocation failure would surface there (with the pipeline's tensors alive on the way out).
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_used = 0


def maybe_out_of_memory() -> None:
    global _used
    wanted = int(os.environ.get("OURVIDZ_FAULT_OOM", "0") or 0)
    with _lock:
        if _used >= wanted:
            return
        _used += 1
    import torch

    raise torch.OutOfMemoryError("CUDA out of memory (forced by OURVIDZ_FAULT_OOM)")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    # MPS and some CUDA paths raise a plain RuntimeError with the allocator's message.
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text.lower() or "MPS backend out of memory" in text)
