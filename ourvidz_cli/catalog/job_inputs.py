"""What a job starts from, checked against what its model family takes (a family's `inputs`, by output):
--image/--mask on SDXL, --image on Wan image types, --video and reference frames on Wan video types.
Reference frames also need the model's catalog `vace` companion, which goes into the job's config."""

from __future__ import annotations

from typing import Any

from ourvidz_cli.catalog.job import ImageInput, ModelRef
from ourvidz_cli.catalog.schema import Catalog, JobType, Model
from ourvidz_cli.errors import UsageError

FILES = ("image", "mask", "video", "first_frame", "last_frame", "refs")
FRAMES = ("first_frame", "last_frame", "refs")
FLAG = {"refs": "ref-image"}


def flag(key: str) -> str:
    return "--" + FLAG.get(key, key.replace("_", "-"))


def _takers(catalog: Catalog, key: str) -> str:
    """Job types that take an input, for the error that names what to use instead."""
    from ourvidz_cli.engine.families.registry import family

    names = [jt.name for jt in catalog.job_types.values()
             if key in getattr(family(catalog.models[jt.model].kind), "inputs", {}).get(jt.output, ())]
    return ", ".join(names[:4]) or "none in this catalog"


def _check_files(catalog: Catalog, jt: JobType, model: Model, over: dict[str, Any], files: list[str]) -> None:
    from ourvidz_cli.engine.families.registry import family

    takes = getattr(family(model.kind), "inputs", {}).get(jt.output, ())
    for key in files:
        if key not in takes:
            raise UsageError(f"{flag(key)} does not apply to {jt.name} (model '{model.name}'); job types that take "
                             f"it: {_takers(catalog, key)}")
    if "mask" in over and "image" not in over:
        raise UsageError("--mask needs --image: the picture whose masked part is repainted")
    frames = [k for k in FRAMES if k in over]
    if frames and "video" in over:
        raise UsageError(f"--video and {flag(frames[0])} are two ways to start a clip; give one of them")
    if frames and "strength" in over:
        raise UsageError("--strength applies to --image and --video; reference frames are kept as given")
    if frames and model.vace is None:
        raise UsageError(f"{flag(frames[0])} needs a VACE model: model '{model.name}' names none (vace = ... in "
                         "models.toml)")


def job_inputs(catalog: Catalog, jt: JobType, model: Model, over: dict[str, Any], invert: bool,
               steps: int) -> tuple[ImageInput | None, ModelRef | None]:
    """The job's inputs (stored names, strength, fit) and the VACE model that reads reference frames."""
    from ourvidz_cli.library.inputs import FITS

    files = [k for k in FILES if over.get(k)]
    if not files:
        extra = [k for k in ("strength", "fit") if k in over]
        if extra:
            raise UsageError(f"--{extra[0]} needs --image or --video: the picture or clip to start from")
        return None, None
    _check_files(catalog, jt, model, over, files)
    try:
        strength = float(over.get("strength", 0.75))
    except (TypeError, ValueError):
        raise UsageError(f"--strength must be a number, got {over.get('strength')!r}") from None
    if not 0 < strength <= 1:
        raise UsageError(f"--strength {strength:g} is outside (0, 1]: 0.3 stays close to the image, 1.0 repaints it")
    if ("image" in over or "video" in over) and int(steps * strength) < 1:
        # diffusers denoises int(steps x strength) steps of the schedule and refuses none at all.
        need = next(n for n in range(steps, 10**6) if int(n * strength) >= 1)
        raise UsageError(f"--steps {steps} at --strength {strength:g} runs no denoising step (steps x strength "
                         f"< 1); give --steps {need} or more, or a higher --strength")
    fit = str(over.get("fit", "letterbox"))
    if fit not in FITS:
        raise UsageError(f"--fit {fit}: choose {', '.join(FITS)}")
    refs = over.get("refs") or ()
    given = ImageInput(over.get("image"), strength, fit, over.get("mask"), invert, over.get("first_frame"),
                       over.get("last_frame"), tuple(str(r) for r in ([refs] if isinstance(refs, str) else refs)),
                       over.get("video"))
    return given, catalog.models[model.vace].as_ref() if given.frames_in and model.vace else None
