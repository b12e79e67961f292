"""What a job adds to its job type's defaults beyond the basic settings: the prompt's wildcards expanded
from its seed, its inputs, sampler, LoRAs and variation seed. One place that turns those options into
JobConfig fields, so resolve.py stays the order of checks."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.schema import Catalog, JobType, Model
from ourvidz_cli.errors import UsageError


def expand_prompt(text: str, seed: int, count: int, over: dict[str, Any],
                  wildcard_dir: Path | None) -> tuple[str, dict[str, Any]]:
    """The prompt with `{a|b}` and `__name__` picked from the job's seed (each image its own pick with
    `per_image`), and the fields that record the template."""
    from ourvidz_cli.prompts.wildcards import Expander, has_template

    if over.get("template"):  # one of `--combinations`: already expanded, the template is recorded
        return text, {"template": str(over["template"])}
    if not has_template(text):
        return text, {}
    expander = Expander(wildcard_dir)
    if over.get("per_image") and count > 1:
        picks = tuple(expander.expand(text, random.Random(f"{seed}/{i}")) for i in range(count))
        return picks[0], {"template": text, "per_image": picks}
    return expander.expand(text, random.Random(seed)), {"template": text}


def extras(catalog: Catalog, jt: JobType, model: Model, over: dict[str, Any], text: str, steps: int,
           invert: bool, lora_dir: Path | None) -> dict[str, Any]:
    """JobConfig's fields for inputs, sampler, LoRAs and variation seed (each checked where it is made)."""
    from ourvidz_cli.catalog.job_inputs import job_inputs
    from ourvidz_cli.catalog.loras import job_loras
    from ourvidz_cli.catalog.sampling import job_sampler, variation

    sampler, shift = job_sampler(jt, model, over)
    specs = over.get("lora") or []
    adapters = job_loras(text, [specs] if isinstance(specs, str) else list(specs), model.kind, catalog.loras,
                         lora_dir)
    inputs, vace = job_inputs(catalog, jt, model, over, invert, steps)
    variation_seed, variation_strength = variation(over, inputs is not None)
    if over.get("per_image") and model.kind != "sdxl":
        raise UsageError(f"--per-image applies to SDXL's batches of images, not to {jt.name}")
    return {"inputs": inputs, "vace": vace, "sampler": sampler, "shift": shift, "adapters": adapters,
            "variation_seed": variation_seed, "variation_strength": variation_strength}
