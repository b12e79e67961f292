"""The `parameters` text that AUTOMATIC1111 writes into PNGs, and a parser for it.

Image browsers, Civitai and A1111's own "PNG Info" tab read this layout: the prompt (any number of
lines), an optional line starting `Negative prompt:`, then one line of `Key: value` pairs separated by
commas, where a value holding a comma, colon or newline is JSON-quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any

# diffusers scheduler classes under the names A1111 users know.
SAMPLER_NAMES = {
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "UniPCMultistepScheduler": "UniPC",
    "DDIMScheduler": "DDIM",
    "FlowMatchEulerDiscreteScheduler": "Euler (flow match)",
    "LCMScheduler": "LCM",
}

NEGATIVE = "Negative prompt:"
PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def sampler_name(scheduler_class: str) -> str:
    return SAMPLER_NAMES.get(scheduler_class, scheduler_class)


def sampler_fields(sampler: str) -> dict[str, str]:
    """How AUTOMATIC1111 writes a sampler (a scheduler class or a chosen name): `Sampler: DPM++ 2M,
    Schedule type: Karras`."""
    name = sampler_name(sampler)
    if name.endswith(" Karras"):
        return {"Sampler": name.removesuffix(" Karras"), "Schedule type": "Karras"}
    return {"Sampler": name}


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ',:\n"') else text


def format_parameters(prompt: str, negative: str, params: dict[str, Any]) -> str:
    lines = [prompt]
    if negative:
        lines.append(f"{NEGATIVE} {negative}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in params.items() if value is not None))
    return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, Any]:
    """{"prompt", "negative_prompt", "params": {key: str}}; tolerant of A1111's own variants."""
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    # The last line holds the settings only if it reads as several `Key: value` pairs.
    if len(PARAM.findall(lines[-1])) >= 3:
        for key, value in PARAM.findall(lines.pop()):
            value = value.strip()
            if value.startswith('"') and value.endswith('"'):
                value = json.loads(value)
            params[key.strip()] = value
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith(NEGATIVE):
            target = negative_lines
            line = line[len(NEGATIVE):].lstrip()
        target.append(line)
    return {"prompt": "\n".join(prompt_lines), "negative_prompt": "\n".join(negative_lines), "params": params}
