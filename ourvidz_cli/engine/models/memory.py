"""Peak memory of one job: CUDA's max allocated on a GPU, the process's resident set elsewhere."""

from __future__ import annotations

import os
import threading
from types import TracebackType

import torch


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """Measures while the block runs; `.mb` and `.kind` afterwards (mb is None where unmeasurable)."""

    def __init__(self, device: str, sample_s: float = 0.05) -> None:
        self.device = device
        self.kind = "cuda_max_allocated" if device.startswith("cuda") else "process_rss"
        self.mb: float | None = None
        self._sample_s = sample_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        # CPU and MPS have no peak counter; a sampler catches the peak to within one interval.
        while True:
            now = _rss_mb()
            if now is not None:
                self.mb = max(self.mb or 0.0, now)
            if self._stop.wait(self._sample_s):
                return

    def __enter__(self) -> PeakMemory:
        if self.kind == "cuda_max_allocated":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.kind == "cuda_max_allocated":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=1)
