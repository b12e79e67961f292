"""Samplers by the names users know, as diffusers scheduler classes and options (torch-free tables; the
scheduler is built per job from the loaded pipeline's own scheduler config, so nothing of a previous job's
choice carries over and nothing is reloaded).

SDXL takes AUTOMATIC1111's names, mapped as diffusers' scheduler docs map them. Wan takes the flow-matching
solvers Wan's own generate.py offers (`unipc`, `dpm++`) and `euler`, and a flow shift (`--shift`).
"""

from __future__ import annotations

from typing import Any

KARRAS = {"use_karras_sigmas": True}
SDE = {"algorithm_type": "sde-dpmsolver++"}

# A1111 name -> (diffusers class, options)
SDXL: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DPM2": ("KDPM2DiscreteScheduler", {}),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", KARRAS),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", KARRAS),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", SDE),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler", {**SDE, **KARRAS}),
    "DPM++ SDE": ("DPMSolverSinglestepScheduler", {}),
    "DPM++ SDE Karras": ("DPMSolverSinglestepScheduler", KARRAS),
    "DDIM": ("DDIMScheduler", {}),
    "PLMS": ("PNDMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "LMS Karras": ("LMSDiscreteScheduler", KARRAS),
}

_FLOW = {"prediction_type": "flow_prediction", "use_flow_sigmas": True}
# Wan's solver names -> (diffusers class, options); the flow shift goes in as `flow_shift` (`shift` for Euler).
WAN: dict[str, tuple[str, dict[str, Any]]] = {
    "unipc": ("UniPCMultistepScheduler", _FLOW),
    "dpm++": ("DPMSolverMultistepScheduler", _FLOW),
    "euler": ("FlowMatchEulerDiscreteScheduler", {}),
}


def shift_option(class_name: str) -> str:
    return "shift" if class_name == "FlowMatchEulerDiscreteScheduler" else "flow_shift"


def for_job(table: dict[str, tuple[str, dict[str, Any]]], current: Any, name: str | None,
            shift: float | None) -> Any | None:
    """A fresh scheduler for one job: `name` from `table` (None: the loaded pipeline's own class), its
    options over the loaded scheduler's config, and the flow shift when given. None when the job asks for
    neither: the pipeline's own scheduler runs, exactly as before samplers could be chosen."""
    import diffusers

    if name is None and shift is None:
        return None
    class_name, options = table[name] if name else (type(current).__name__, {})
    options = dict(options)
    config = dict(current.config)
    if table is WAN and shift is None:  # another solver keeps the model's flow shift
        shift = config.get("flow_shift") or config.get("shift")
    if shift is not None:
        options[shift_option(class_name)] = shift
    return getattr(diffusers, class_name).from_config(config, **options)
