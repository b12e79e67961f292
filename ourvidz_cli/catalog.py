"""The job catalog (models.toml): models, buckets, prompt templates and job types as frozen data.

Everything a job needs to run is resolved here, once, into a plain dict that the ledger stores,
so a job can be re-run exactly even after the catalog changes.
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ourvidz_cli.errors import CatalogError, UsageError

MIME_BY_OUTPUT = {"png": "image/png", "mp4": "video/mp4"}
DTYPES = ("float32", "float16", "bfloat16")
MAX_SEED = 2**32 - 1
LIMITS = {
    "steps": (1, 500),
    "count": (1, 16),
    "frames": (1, 257),
    "guidance": (0.0, 50.0),
    "priority": (0, 100),
    "max_attempts": (1, 20),
    "side": (8, 4096),
}
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class Model:
    name: str
    kind: str
    repo: str | None
    path: Path | None
    dtype: str
    size_multiple: int = 8
    frame_step: int = 1
    fps: int = 16
    max_new_tokens: int = 200
    # LoRAs fused at load: each {"source": path or repo id, "weight": float, "weight_name": file in a repo}.
    loras: tuple[dict[str, Any], ...] = ()
    # For a single-file checkpoint: the diffusers folder or repo whose configs and tokenizers describe it.
    config: str | None = None
    # A replacement VAE (folder or repo id), e.g. the fp16-safe SDXL VAE.
    vae: str | None = None

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else str(self.repo)

    @property
    def single_file(self) -> bool:
        return self.path is not None and self.path.suffix in (".safetensors", ".ckpt")

    def missing_reason(self) -> str | None:
        """Why this model cannot load, when that is knowable without a network."""
        if self.path is not None and not self.path.exists():
            return f"model '{self.name}' points at {self.path}, which does not exist"
        for lora in self.loras:
            if lora.get("local") and not Path(lora["source"]).exists():
                return f"model '{self.name}' uses the LoRA {lora['source']}, which does not exist"
        return None

    def as_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "local": self.path is not None,
            "dtype": self.dtype,
            "fps": self.fps,
            "max_new_tokens": self.max_new_tokens,
            "loras": [dict(lora) for lora in self.loras],
            "config": self.config,
            "vae": self.vae,
        }


@dataclass(frozen=True)
class Bucket:
    name: str
    max_mb: float | None
    mime: tuple[str, ...]
    public: bool = False


@dataclass(frozen=True)
class Prompt:
    """A system prompt for Qwen, and how the answer must fit the model that will read it."""

    name: str
    system: str
    token_limit: int | None = None  # counted with tokenizer_model's tokenizer, special tokens included
    tokenizer_model: str | None = None
    tokenizer_subfolder: str = "tokenizer"
    max_new_tokens: int | None = None


@dataclass(frozen=True)
class JobType:
    name: str
    model: str
    steps: int
    width: int
    height: int
    frames: int | None
    count: int
    output: str
    guidance: float
    priority: int
    negative: str
    bucket: str
    enhancer: str | None = None
    enhance_prompt: str | None = None

    @property
    def enhanced(self) -> bool:
        return self.enhancer is not None


@dataclass(frozen=True)
class Catalog:
    path: Path
    models: dict[str, Model]
    buckets: dict[str, Bucket]
    prompts: dict[str, Prompt]
    job_types: dict[str, JobType]
    smoke: bool = False
    max_attempts: int = 3
    enhancer: str | None = None  # the model `--enhance` uses on job types that do not name one

    def prompt(self, name: str) -> Prompt:
        return _lookup(self.prompts, name, "prompt target", f"the catalog has {', '.join(self.prompts)}")

    def enhance_config(self, enhancer: str, target: str) -> dict[str, Any]:
        """What the runner needs to enhance a prompt for `target`: the system prompt, token budget and
        the tokenizer that measures it (from the catalog model the answer is meant for)."""
        p = self.prompt(target)
        tokenizer = None
        if p.token_limit and p.tokenizer_model:
            model = self.models[p.tokenizer_model]
            tokenizer = {"model": model.name, "source": model.source, "subfolder": p.tokenizer_subfolder}
        qwen = self.models[enhancer]
        return {
            "target": target,
            "system": p.system,
            "token_limit": p.token_limit,
            "tokenizer": tokenizer,
            "max_new_tokens": p.max_new_tokens or qwen.max_new_tokens,
        }

    def job_type(self, name: str) -> JobType:
        return _lookup(self.job_types, name, "job type", "run 'ourvidz job-types' to list them")


T = TypeVar("T")


def _lookup(table: dict[str, T], name: str, what: str, fix: str) -> T:
    """table[name], or a usage error that suggests the closest name."""
    try:
        return table[name]
    except KeyError:
        close = difflib.get_close_matches(name, table, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"unknown {what} '{name}'{hint}; {fix}") from None


def packaged_catalog_path() -> Path:
    """The default catalog: shipped inside the wheel, or at the repo root in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "models.toml", here.parent / "models.toml"):
        if candidate.is_file():
            return candidate
    raise CatalogError("the default catalog models.toml is missing from the installation; reinstall ourvidz")


def smoke_overlay_path() -> Path:
    return Path(__file__).resolve().parent / "smoke.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CatalogError(f"catalog {path} does not exist; pass --config with a models.toml, or unset OURVIDZ_CONFIG")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"catalog {path} cannot be read: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not match:
        raise UsageError(f"size '{text}' is not WIDTHxHEIGHT, e.g. 1024x1024")
    return int(match.group(1)), int(match.group(2))


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog; `base = "default"` layers it over the packaged one."""
    path = path.expanduser().resolve()
    raw = _read_toml(path)
    if raw.get("base") == "default":
        base = _read_toml(packaged_catalog_path())
        # Relative model paths in the overlay belong to the overlay's folder, which _build uses.
        raw = _merge(base, {k: v for k, v in raw.items() if k != "base"})
    elif "base" in raw:
        raise CatalogError(f"catalog {path}: base = '{raw['base']}' is not supported (only \"default\")")
    try:
        return _build(path, raw)
    except CatalogError:
        raise
    except KeyError as exc:
        raise CatalogError(f"catalog {path} is malformed: the required field {exc} is missing") from None
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"catalog {path} is malformed: {exc!s}") from None


def _table(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict) or not value:
        raise CatalogError(f"catalog {path} has no [{key}] tables")
    return value


def _build(path: Path, raw: dict[str, Any]) -> Catalog:
    models: dict[str, Model] = {}
    for name, spec in _table(raw, "models", path).items():
        # An overlay unsets the base's source with repo = false or path = false.
        repo, local = spec.get("repo") or None, spec.get("path") or None
        if (repo is None) == (local is None):
            raise CatalogError(f"catalog {path}: model '{name}' needs exactly one of repo = ... or path = ...")
        dtype = spec.get("dtype", "float16")
        if dtype not in DTYPES:
            raise CatalogError(f"catalog {path}: model '{name}' dtype '{dtype}' is not one of {', '.join(DTYPES)}")
        resolved = None
        if local is not None:
            resolved = _local(path, str(local))
        models[name] = Model(
            loras=tuple(_lora(path, name, i, lora) for i, lora in enumerate(spec.get("loras", []))),
            config=_config_source(path, spec.get("config")),
            vae=_config_source(path, spec.get("vae")),
            name=name,
            kind=str(spec["kind"]),
            repo=repo,
            path=resolved,
            dtype=dtype,
            size_multiple=int(spec.get("size_multiple", 8)),
            frame_step=int(spec.get("frame_step", 1)),
            fps=int(spec.get("fps", 16)),
            max_new_tokens=int(spec.get("max_new_tokens", 200)),
        )

    buckets = {
        name: Bucket(
            name=name,
            max_mb=float(spec["max_mb"]) if "max_mb" in spec else None,
            mime=tuple(spec.get("mime", [])),
            public=bool(spec.get("public", False)),
        )
        for name, spec in _table(raw, "buckets", path).items()
    }
    prompts = {
        name: Prompt(
            name=name,
            system=str(spec["system"]),
            token_limit=int(spec["token_limit"]) if "token_limit" in spec else None,
            tokenizer_model=spec.get("tokenizer_model"),
            tokenizer_subfolder=str(spec.get("tokenizer_subfolder", "tokenizer")),
            max_new_tokens=int(spec["max_new_tokens"]) if "max_new_tokens" in spec else None,
        )
        for name, spec in raw.get("prompts", {}).items()
    }
    for p in prompts.values():
        if p.tokenizer_model is not None and p.tokenizer_model not in models:
            raise CatalogError(f"catalog {path}: prompt '{p.name}' measures with model '{p.tokenizer_model}', "
                               "which [models] does not define")
    enhancer = raw.get("enhancer")
    if enhancer is not None and enhancer not in models:
        raise CatalogError(f"catalog {path}: enhancer = '{enhancer}' is not a model in [models]")

    job_types: dict[str, JobType] = {}
    for name, spec in _table(raw, "job_types", path).items():
        width, height = parse_size(spec["size"])
        jt = JobType(
            name=name,
            model=str(spec["model"]),
            steps=int(spec["steps"]),
            width=width,
            height=height,
            frames=int(spec["frames"]) if "frames" in spec else None,
            count=int(spec.get("count", 1)),
            output=str(spec["output"]),
            guidance=float(spec.get("guidance", 5.0)),
            priority=int(spec.get("priority", 1)),
            negative=str(spec.get("negative", "")),
            bucket=str(spec.get("bucket", name)),
            enhancer=spec.get("enhancer"),
            enhance_prompt=spec.get("enhance_prompt"),
        )
        _check_job_type(path, jt, models, buckets, prompts)
        job_types[name] = jt

    return Catalog(
        path=path,
        models=models,
        buckets=buckets,
        prompts=prompts,
        job_types=job_types,
        smoke=bool(raw.get("smoke", False)),
        max_attempts=int(raw.get("max_attempts", 3)),
        enhancer=enhancer,
    )


def _local(path: Path, raw: str) -> Path:
    resolved = Path(os.path.expanduser(raw))
    return resolved if resolved.is_absolute() else (path.parent / resolved).resolve()


def _lora(path: Path, model: str, i: int, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or (("path" in spec) == ("repo" in spec)):
        raise CatalogError(f"catalog {path}: model '{model}' LoRA {i + 1} needs exactly one of path = ... or "
                           "repo = ..., and optionally weight and weight_name")
    try:
        weight = float(spec.get("weight", 1.0))
    except (TypeError, ValueError):
        raise CatalogError(f"catalog {path}: model '{model}' LoRA {i + 1} weight must be a number") from None
    local = "path" in spec
    return {"source": str(_local(path, str(spec["path"]))) if local else str(spec["repo"]), "local": local,
            "weight": weight, "weight_name": spec.get("weight_name")}


def _config_source(path: Path, raw: Any) -> str | None:
    if raw is None or raw is False:  # an overlay unsets the base's value with `= false`
        return None
    text = str(raw)
    # A local folder (absolute, ./ or ../ relative to the catalog) or a repo id ("org/name").
    if text.startswith((".", "/", "~")) or (path.parent / text).exists():
        return str(_local(path, text))
    return text


def _check_job_type(
    path: Path, jt: JobType, models: dict[str, Model], buckets: dict[str, Bucket], prompts: dict[str, Prompt]
) -> None:
    where = f"catalog {path}: job type '{jt.name}'"
    if jt.model not in models:
        raise CatalogError(f"{where} uses model '{jt.model}', which [models] does not define")
    if jt.bucket not in buckets:
        raise CatalogError(f"{where} writes to bucket '{jt.bucket}', which [buckets] does not define")
    if jt.output not in MIME_BY_OUTPUT:
        raise CatalogError(f"{where}: output '{jt.output}' is not one of {', '.join(MIME_BY_OUTPUT)}")
    bucket = buckets[jt.bucket]
    if bucket.mime and MIME_BY_OUTPUT[jt.output] not in bucket.mime:
        raise CatalogError(f"{where}: bucket '{jt.bucket}' does not accept {MIME_BY_OUTPUT[jt.output]}")
    if jt.enhancer is not None and jt.enhancer not in models:
        raise CatalogError(f"{where} uses enhancer '{jt.enhancer}', which [models] does not define")
    if jt.enhancer is not None or jt.enhance_prompt is not None:
        if jt.enhance_prompt not in prompts:
            raise CatalogError(f"{where} uses prompt template '{jt.enhance_prompt}', which [prompts] does not define")
    _check_shape(where, models[jt.model], jt.width, jt.height, jt.frames, jt.output, CatalogError)


def _check_shape(
    where: str, model: Model, width: int, height: int, frames: int | None, output: str, error: type[UsageError]
) -> None:
    lo, hi = LIMITS["side"]
    for label, side in (("width", width), ("height", height)):
        if not lo <= side <= hi:
            raise error(f"{where}: {label} {side} is outside {lo}..{hi}")
        if side % model.size_multiple:
            nearest = max(round(side / model.size_multiple), 1) * model.size_multiple
            raise error(
                f"{where}: {label} {side} is not a multiple of {model.size_multiple}, "
                f"which model '{model.name}' needs (try {nearest})"
            )
    if frames is not None:
        if (frames - 1) % model.frame_step:
            raise error(
                f"{where}: {frames} frames does not fit model '{model.name}', which takes "
                f"{model.frame_step}k+1 frames (e.g. 1, 17, 33, 81)"
            )
        if output == "mp4" and frames < 2:
            raise error(f"{where}: a video needs at least 2 frames, got {frames}")


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError(f"--{name} must be a whole number, got {value!r}")
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be a whole number, got {value!r}") from None


def _in_range(name: str, value: float, limits: tuple[float, float]) -> None:
    lo, hi = limits
    if not lo <= value <= hi:
        raise UsageError(f"--{name} {value} is out of range {lo}..{hi}")


@dataclass(frozen=True)
class JobSpec:
    """A fully resolved job, ready for the ledger."""

    job_type: str
    prompt: str
    negative: str
    seed: int
    priority: int
    max_attempts: int
    config: dict[str, Any]
    rerun_of: int | None = None


OVERRIDES = ("steps", "size", "frames", "seed", "negative", "count", "guidance", "priority", "max_attempts", "enhance")


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{name} must be true or false, got {value!r}")


def parse_seed(value: Any) -> int:
    seed = _as_int("seed", value)
    _in_range("seed", seed, (0, MAX_SEED))
    return seed


def respec(job: dict[str, Any], seed: Any = None) -> JobSpec:
    """A new job from a stored one's resolved config, so it runs as it did even if the catalog changed."""
    config = dict(job["config"])
    if seed is not None:
        config["seed"] = parse_seed(seed)
    return JobSpec(job_type=job["type"], prompt=job["prompt"], negative=job["negative_prompt"] or "",
                   seed=config["seed"], priority=job["priority"], max_attempts=job["max_attempts"],
                   config=config, rerun_of=job["id"])


def resolve_job(catalog: Catalog, type_name: str, prompt: Any, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Apply per-job overrides to a job type's defaults, validating every value."""
    jt = catalog.job_type(str(type_name))
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(over) - set(OVERRIDES))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(OVERRIDES)}")

    text = "" if prompt is None else str(prompt).strip()
    if not text:
        raise UsageError("the prompt is empty; say what to generate, e.g. \"a lighthouse at dawn\"")
    if len(text) > MAX_PROMPT_CHARS:
        raise UsageError(f"the prompt is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")

    model = catalog.models[jt.model]
    steps = _as_int("steps", over.get("steps", jt.steps))
    _in_range("steps", steps, LIMITS["steps"])
    count = _as_int("count", over.get("count", jt.count))
    _in_range("count", count, LIMITS["count"])
    priority = _as_int("priority", over.get("priority", jt.priority))
    _in_range("priority", priority, LIMITS["priority"])
    max_attempts = _as_int("max_attempts", over.get("max_attempts", catalog.max_attempts))
    _in_range("max-attempts", max_attempts, LIMITS["max_attempts"])
    try:
        guidance = float(over.get("guidance", jt.guidance))
    except (TypeError, ValueError):
        raise UsageError(f"--guidance must be a number, got {over.get('guidance')!r}") from None
    _in_range("guidance", guidance, LIMITS["guidance"])
    seed = parse_seed(over["seed"]) if "seed" in over else secrets.randbelow(MAX_SEED + 1)

    width, height = parse_size(over["size"]) if "size" in over else (jt.width, jt.height)
    frames = jt.frames
    if "frames" in over:
        if jt.frames is None:
            raise UsageError(f"--frames does not apply to {jt.name}: model '{model.name}' makes still images")
        frames = _as_int("frames", over["frames"])
        _in_range("frames", frames, LIMITS["frames"])
    _check_shape(f"{jt.name}", model, width, height, frames, jt.output, UsageError)

    enhancer = jt.enhancer
    if _as_bool("enhance", over.get("enhance", False)) and enhancer is None:
        enhancer = catalog.enhancer
        if enhancer is None or jt.enhance_prompt is None:
            raise UsageError(f"--enhance: the catalog names no enhancer model or prompt target for {jt.name}")
    needed = [model] + ([catalog.models[enhancer]] if enhancer else [])
    for m in needed:
        reason = m.missing_reason()
        if reason:
            fix = "run 'ourvidz models init-smoke'" if catalog.smoke else f"fix models.toml ({catalog.path})"
            raise UsageError(f"{reason}; {fix}")

    negative = str(over.get("negative", jt.negative))
    config: dict[str, Any] = {
        "job_type": jt.name,
        "model": model.as_config(),
        "enhancer": catalog.models[enhancer].as_config() if enhancer else None,
        "enhance": catalog.enhance_config(enhancer, jt.enhance_prompt) if enhancer and jt.enhance_prompt else None,
        "steps": steps,
        "width": width,
        "height": height,
        "frames": frames,
        "fps": model.fps,
        "count": count,
        "guidance": guidance,
        "negative": negative,
        "seed": seed,
        "output": jt.output,
        "mime": MIME_BY_OUTPUT[jt.output],
        "bucket": jt.bucket,
        "smoke": catalog.smoke,
        "catalog": str(catalog.path),
    }
    return JobSpec(
        job_type=jt.name,
        prompt=text,
        negative=negative,
        seed=seed,
        priority=priority,
        max_attempts=max_attempts,
        config=config,
    )
