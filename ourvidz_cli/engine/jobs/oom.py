"""Out-of-memory handling: recognising it, and the switch that lets a test force it.

OURVIDZ_FAULT_OOM=N makes the next N generation attempts in this process raise torch's
OutOfMemoryError at their first denoising step, from inside the pipeline's call, as a CUDA
allocation failure would surface there (with the pipeline's tensors alive on the way out).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ourvidz_cli.errors import OurvidzError

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


def generate_with_fallback(engine: Any, family: Any, model: Any, pipe: Any, generate: Callable[[], Any],
                           fell_back: Callable[[str], None], also: tuple[Any, ...] = ()) -> Any:
    """Generate; out of memory once, free it, switch the pipeline to offload and tiling, and retry."""
    from ourvidz_cli.engine.models.manager import free_device_memory

    try:
        return generate()
    except Exception as exc:  # noqa: BLE001  only out-of-memory is handled; the rest re-raises
        if not is_out_of_memory(exc):
            raise
    evicted = engine.evict_all_but(model, also)  # e.g. Qwen, still warm from enhancing this job's prompt
    free_device_memory(engine.device)  # outside the except: the traceback no longer pins the tensors
    switched = family.low_memory(pipe, engine.device)
    fell_back("out of memory; " + (f"evicted {', '.join(evicted)}; " if evicted else "") + "retried with "
              + (", ".join(switched) or "nothing left to switch"))
    engine.drop(model)  # offload hooks stay on the pipeline: the next job loads the model afresh
    try:
        return generate()
    except Exception as again:  # noqa: BLE001
        if is_out_of_memory(again):
            raise OurvidzError(
                f"out of memory on {engine.device} even with {', '.join(switched) or 'no fallback'}: try a "
                "smaller --size, fewer --frames or --count, or a lower --vram-budget for other models"
            ) from None
        raise
