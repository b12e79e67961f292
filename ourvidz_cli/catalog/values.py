"""Checking one job option's value (a whole number in range, a yes/no, a seed), for the resolver and the
options that resolve beside it (samplers, variations, project storyboards)."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.catalog.schema import LIMITS, MAX_SEED
from ourvidz_cli.errors import UsageError


def as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError(f"--{name} must be a whole number, got {value!r}")
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be a whole number, got {value!r}") from None


def in_range(name: str, value: float, limits: tuple[float, float]) -> None:
    lo, hi = limits
    if not lo <= value <= hi:
        raise UsageError(f"--{name} {value} is out of range {lo}..{hi}")


def bounded_int(name: str, value: Any, limit_key: str | None = None) -> int:
    number = as_int(name, value)
    in_range(name, number, LIMITS[limit_key or name])
    return number


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{name} must be true or false, got {value!r}")


def parse_seed(value: Any) -> int:
    seed = as_int("seed", value)
    in_range("seed", seed, (0, MAX_SEED))
    return seed
