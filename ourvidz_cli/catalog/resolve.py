"""From a job type and the user's overrides to a validated, fully resolved job (a JobSpec holding a JobConfig).

Every value a user hands in (CLI options, job-file fields) is checked here, once, before the ledger opens.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.fingerprint import fingerprint
from ourvidz_cli.catalog.job import EnhanceSpec, JobConfig, ModelRef
from ourvidz_cli.catalog.job_extras import expand_prompt, extras
from ourvidz_cli.catalog.load import check_shape, parse_size
from ourvidz_cli.catalog.revisions import pin_config
from ourvidz_cli.catalog.schema import LIMITS, MAX_PROMPT_CHARS, MAX_SEED, MIME_BY_OUTPUT, Catalog, JobType, Model
from ourvidz_cli.catalog.values import as_bool, bounded_int, in_range, parse_seed
from ourvidz_cli.errors import UsageError

OVERRIDES = ("steps", "size", "frames", "seed", "negative", "count", "guidance", "priority", "max_attempts", "enhance",
             "image", "strength", "fit", "mask", "invert_mask", "video", "first_frame", "last_frame", "refs",
             "sampler", "shift", "model", "lora", "variation_seed", "variation_strength", "per_image", "template")


@dataclass(frozen=True)
class JobSpec:
    """A job ready for the queue: its prompt, queue settings, and the resolved config."""

    job_type: str
    prompt: str
    priority: int
    max_attempts: int
    config: JobConfig
    rerun_of: int | None = None
    # A rerun reuses the answer Qwen gave the original job, so the same prompt reaches the model even
    # when the cache lacks it (a moved home, a cleared cache, other Qwen weights).
    enhanced_prompt: str | None = None
    # Set when the seed is fixed (given, or a rerun's): the same request again can reuse the outputs.
    fingerprint: str | None = None
    pair_of: int | None = None  # the enhanced job this one renders the raw prompt for (--ab)

    @property
    def negative(self) -> str:
        return self.config.negative

    @property
    def seed(self) -> int:
        return self.config.seed


def check_prompt(prompt: Any) -> str:
    """A prompt is text: a number from a job file is taken as its digits, but an object or a list is
    refused (its Python repr is not what anyone meant), as are NUL, control characters and bytes
    that are not UTF-8 (a shell passes those through as lone surrogates)."""
    if isinstance(prompt, (dict, list, bool)):
        raise UsageError(f"the prompt must be text, not {type(prompt).__name__} {json.dumps(prompt)[:40]}")
    text = "" if prompt is None else str(prompt).strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the prompt is not valid UTF-8; check the terminal's or file's encoding") from None
    bad = sorted({f"U+{ord(c):04X}" for c in text if (ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127})
    if bad:
        raise UsageError(f"the prompt holds control characters ({', '.join(bad[:3])}); remove them")
    if not text:
        raise UsageError("the prompt is empty; say what to generate, e.g. \"a lighthouse at dawn\"")
    if len(text) > MAX_PROMPT_CHARS:
        raise UsageError(f"the prompt is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    return text


def respec(job: dict[str, Any], seed: Any = None) -> JobSpec:
    """A new job from a stored one's resolved config, so it runs as it did even if the catalog changed."""
    # The weights it loaded: each Hugging Face source at the commit the job recorded.
    config: JobConfig = pin_config(job["config"], json.loads(job.get("revisions") or "{}"))
    if seed is not None:
        config = config.with_seed(parse_seed(seed))
    enhanced = job.get("enhanced_prompt") if config.enhancer is not None else None
    return JobSpec(job_type=job["type"], prompt=job["prompt"], priority=job["priority"],
                   max_attempts=job["max_attempts"], config=config, rerun_of=job["id"], enhanced_prompt=enhanced,
                   fingerprint=fingerprint(job["prompt"], config, enhanced))


def spec_from_bundle(info: dict[str, Any], catalog: Catalog | None) -> JobSpec:
    """The job a bundle describes, as it ran (with the prompt Qwen gave it). A local model that is not at
    its recorded path (another machine) is taken from `catalog` by name."""
    config = JobConfig.from_dict(info["config"])
    enhancer = _model_here(config.enhancer, catalog) if config.enhancer else None
    config = replace(config, model=_model_here(config.model, catalog), enhancer=enhancer)
    return JobSpec(job_type=str(info["type"]), prompt=check_prompt(info["prompt"]),
                   priority=bounded_int("priority", info.get("priority", 1)),
                   max_attempts=bounded_int("max-attempts", info.get("max_attempts", 3), "max_attempts"),
                   config=config, enhanced_prompt=info.get("enhanced_prompt"))


def _model_here(model: ModelRef, catalog: Catalog | None) -> ModelRef:
    if not model.local or Path(model.source).exists():
        return model
    found = catalog.models.get(model.name) if catalog is not None else None
    if found is None:
        raise UsageError(f"the bundle's model '{model.name}' ({model.source}) is not on this machine and the "
                         f"catalog has no model named '{model.name}'; point --config at a catalog that has it")
    here = found.as_ref()
    return replace(model, source=here.source, local=here.local)


def raw_twin(spec: JobSpec, pair_of: int) -> JobSpec:
    """For --ab: the same job with the user's own prompt, not Qwen's (same seed and settings)."""
    if spec.config.enhancer is None:
        raise UsageError(f"--ab compares an enhanced prompt with the raw one, and {spec.job_type} is not "
                         "enhanced; use an *_enhanced job type or add --enhance")
    config = replace(spec.config, enhancer=None, enhance=None)
    return replace(spec, config=config, enhanced_prompt=None, rerun_of=None, pair_of=pair_of,
                   fingerprint=fingerprint(spec.prompt, config, None) if spec.fingerprint else None)


def _shape(jt: JobType, model: Model, over: dict[str, Any]) -> tuple[int, int, int | None]:
    width, height = parse_size(over["size"]) if "size" in over else (jt.width, jt.height)
    frames = jt.frames
    if "frames" in over:
        if jt.frames is None:
            raise UsageError(f"--frames does not apply to {jt.name}: model '{model.name}' makes still images")
        frames = bounded_int("frames", over["frames"])
        if jt.output == "png" and frames != 1:
            raise UsageError(f"--frames {frames} does not apply to {jt.name}, which writes one still image per "
                             "output; use a video job type (e.g. video_fast) for clips")
    check_shape(f"{jt.name}", model, width, height, frames, jt.output, UsageError)
    return width, height, frames


def _enhancement(catalog: Catalog, jt: JobType, over: dict[str, Any]) -> tuple[Model | None, EnhanceSpec | None]:
    name = jt.enhancer
    if as_bool("enhance", over.get("enhance", False)) and name is None:
        name = catalog.enhancer
        if name is None or jt.enhance_prompt is None:
            raise UsageError(f"--enhance: the catalog names no enhancer model or prompt target for {jt.name}")
    if name is None:
        return None, None
    spec = catalog.enhance_spec(name, jt.enhance_prompt) if jt.enhance_prompt else None
    return catalog.models[name], spec


def _pick_model(catalog: Catalog, jt: JobType, over: dict[str, Any]) -> Model:
    """The job type's model, or another checkpoint of the same family (`--model NAME`)."""
    own = catalog.models[jt.model]
    name = str(over.get("model") or jt.model)
    if name not in catalog.models:
        same = [m.name for m in catalog.models.values() if m.kind == own.kind]
        raise UsageError(f"--model {name}: no such model in the catalog; {jt.name} takes: {', '.join(same)} "
                         "(see 'ourvidz models list')")
    model = catalog.models[name]
    if model.kind != own.kind:
        raise UsageError(f"--model {name} is a {model.kind} model; {jt.name} runs {own.kind} models "
                         f"({', '.join(m.name for m in catalog.models.values() if m.kind == own.kind)})")
    return model


def _check_present(catalog: Catalog, models: list[Model]) -> None:
    for m in models:
        reason = m.missing_reason()
        if reason:
            fix = "run 'ourvidz models init-smoke'" if catalog.smoke else f"fix models.toml ({catalog.path})"
            raise UsageError(f"{reason}; {fix}")


def resolve_job(catalog: Catalog, type_name: str, prompt: Any, overrides: dict[str, Any] | None = None,
                empty_prompt: bool = False, home: Path | None = None) -> JobSpec:
    """Apply per-job overrides to a job type's defaults, validating every value. `empty_prompt`: the
    shared queue's exact-copy mode, which may send none; `home`: the data home (its loras/ and
    wildcards/ folders)."""
    jt = catalog.job_type(str(type_name))
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(over) - set(OVERRIDES))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(OVERRIDES)}")
    text = "" if empty_prompt and not str(prompt or "").strip() else check_prompt(prompt)
    model = _pick_model(catalog, jt, over)
    steps = bounded_int("steps", over.get("steps", jt.steps))
    count = bounded_int("count", over.get("count", jt.count))
    priority = bounded_int("priority", over.get("priority", jt.priority))
    max_attempts = bounded_int("max-attempts", over.get("max_attempts", catalog.max_attempts), "max_attempts")
    try:
        guidance = float(over.get("guidance", jt.guidance))
    except (TypeError, ValueError):
        raise UsageError(f"--guidance must be a number, got {over.get('guidance')!r}") from None
    in_range("guidance", guidance, LIMITS["guidance"])
    seed = parse_seed(over["seed"]) if "seed" in over else secrets.randbelow(MAX_SEED + 1)
    width, height, frames = _shape(jt, model, over)
    enhancer, enhance = _enhancement(catalog, jt, over)
    text, template = expand_prompt(text, seed, count, over, home / "wildcards" if home else None)
    more = extras(catalog, jt, model, over, text, steps, as_bool("invert_mask", over.get("invert_mask", False)),
                  home / "loras" if home else None)
    vace = more["vace"]
    _check_present(catalog, [model] + ([enhancer] if enhancer else []) + ([catalog.models[vace.name]] if vace else []))
    config = JobConfig(
        job_type=jt.name, model=model.as_ref(), enhancer=enhancer.as_ref() if enhancer else None, enhance=enhance,
        steps=steps, width=width, height=height, frames=frames, fps=model.fps, count=count, guidance=guidance,
        negative=str(over.get("negative", jt.negative)), seed=seed, output=jt.output,
        mime=MIME_BY_OUTPUT[jt.output], bucket=jt.bucket, smoke=catalog.smoke, catalog=str(catalog.path),
        weighting=True, **more, **template,
    )
    return JobSpec(job_type=jt.name, prompt=text, priority=priority, max_attempts=max_attempts, config=config,
                   fingerprint=fingerprint(text, config, None) if "seed" in over else None)
