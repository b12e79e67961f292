"""The device names ourvidz accepts, checked without importing torch (before any job is claimed)."""

from __future__ import annotations

import re

from ourvidz_cli.errors import UsageError

DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d{1,2})?")


def check_device_name(name: str) -> str:
    wanted = name.strip().lower()
    if not DEVICE_NAME.fullmatch(wanted):
        raise UsageError(f"--device '{name}' is not one of auto, cuda, cuda:N, mps, cpu")
    return wanted
