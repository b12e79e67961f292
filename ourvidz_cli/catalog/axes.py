"""A grid's axes (`ourvidz grid ... --x AXIS=V1,V2`): which job option each axis sets and its values,
with AUTOMATIC1111's range forms for numbers: `1-5`, `1-10 (+2)`, `0.2-1.0 [5]`. Values are checked later
by resolving each cell as an ordinary job (the same check as the option)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ourvidz_cli.errors import UsageError

# axis name -> the job option it sets (lora:NAME and sr are handled on their own)
OPTIONS = {"seed": "seed", "steps": "steps", "guidance": "guidance", "cfg": "guidance", "sampler": "sampler",
           "shift": "shift", "model": "model", "size": "size", "frames": "frames", "strength": "strength",
           "variation_seed": "variation_seed", "variation_strength": "variation_strength"}
INTEGER = ("seed", "steps", "frames", "variation_seed")
NUMBER = ("guidance", "cfg", "shift", "strength", "variation_strength")
_RANGE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*-\s*([+-]?\d+(?:\.\d+)?)\s*(?:\(\s*\+\s*(\d+(?:\.\d+)?)\s*\)|"
                    r"\[\s*(\d+)\s*\])?\s*$")
MAX_CELLS = 1000


@dataclass(frozen=True)
class Axis:
    name: str  # as written: "guidance", "lora:detail", "sr"
    values: tuple[str, ...]

    @property
    def label(self) -> str:
        return "Prompt S/R" if self.name == "sr" else self.name

    def apply(self, value: str, prompt: str, over: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The cell's prompt and overrides with this axis at `value`."""
        if self.name == "sr":
            return prompt.replace(self.values[0], value), over
        if self.name.startswith("lora:"):
            loras = [*over.get("lora", []), f"{self.name[5:]}:{value}"]
            return prompt, {**over, "lora": loras}
        return prompt, {**over, OPTIONS[self.name]: value}


def _numbers(name: str, text: str) -> list[str]:
    """One value or a range, expanded; integers stay integers."""
    m = _RANGE.match(text)
    if m is None or name not in (*INTEGER, *NUMBER) or name.startswith("lora:"):
        return [text.strip()]
    lo, hi, step, count = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
    if count is not None:
        n = int(count)
        values = [lo + (hi - lo) * i / (n - 1) for i in range(n)] if n > 1 else [lo]
    else:
        inc = float(step) if step else 1.0
        if inc <= 0:
            raise UsageError(f"axis {name}: the step in {text!r} must be positive")
        values, v = [], lo
        while (v <= hi + 1e-9) if hi >= lo else (v >= hi - 1e-9):
            values.append(v)
            v = v + inc if hi >= lo else v - inc
    integer = name in INTEGER
    return [str(int(round(v))) if integer else f"{round(v, 6):g}" for v in values]


def parse_axis(spec: str) -> Axis:
    """`AXIS=V1,V2,...` (ranges allowed for numeric axes)."""
    name, sep, raw = spec.partition("=")
    name = name.strip().lower() if not name.strip().lower().startswith("lora:") else "lora:" + name.strip()[5:]
    if not sep or not raw.strip():
        raise UsageError(f"axis {spec!r}: write AXIS=V1,V2,... (e.g. guidance=3,6,9 or seed=1-4)")
    known = name in OPTIONS or name == "sr" or (name.startswith("lora:") and len(name) > 5)
    if not known:
        raise UsageError(f"unknown axis {name!r}; axes: {', '.join(OPTIONS)}, lora:NAME, sr")
    values = [v for part in raw.split(",") for v in (_numbers(name, part) if name != "sr" else [part.strip()])]
    if name.startswith("lora:"):
        values = [v for part in raw.split(",") for v in _numbers("strength", part)]
    if not values or any(v == "" for v in values):
        raise UsageError(f"axis {name}: an empty value in {raw!r}")
    return Axis(name, tuple(values))
