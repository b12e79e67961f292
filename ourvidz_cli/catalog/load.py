"""Reading models.toml: TOML, overlays (`base = "default"`), and validation into a frozen Catalog."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ourvidz_cli.catalog.job import Lora
from ourvidz_cli.catalog.schema import DTYPES, LIMITS, MIME_BY_OUTPUT, Bucket, Catalog, JobType, Model, Prompt
from ourvidz_cli.errors import CatalogError, UsageError

# Model, bucket, job type and prompt names become folder names and object keys: plain names only.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def packaged_catalog_path() -> Path:
    """The default catalog: shipped inside the wheel, or at the repo root in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "models.toml", package.parent / "models.toml"):
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


def _entries(raw: dict[str, Any], key: str, path: Path, required: bool = True) -> dict[str, dict[str, Any]]:
    """The [key.NAME] tables, each checked to be a table with a plain name."""
    value = raw.get(key, {} if not required else None)
    if not isinstance(value, dict) or (required and not value):
        raise CatalogError(f"catalog {path} has no [{key}] tables")
    for name, spec in value.items():
        if not isinstance(spec, dict):
            raise CatalogError(f"catalog {path}: [{key}] {name} = ... must be a table [{key}.{name}]")
        if not PLAIN_NAME.fullmatch(name) or ".." in name:
            raise CatalogError(f"catalog {path}: [{key}] name '{name}' must be 1-64 letters, digits, '.', '_' "
                               "or '-' (it becomes a folder or object name)")
    return value


def _model(path: Path, name: str, spec: dict[str, Any]) -> Model:
    # An overlay unsets the base's source with repo = false or path = false.
    repo, local = spec.get("repo") or None, spec.get("path") or None
    if (repo is None) == (local is None):
        raise CatalogError(f"catalog {path}: model '{name}' needs exactly one of repo = ... or path = ...")
    dtype = spec.get("dtype", "float16")
    if dtype not in DTYPES:
        raise CatalogError(f"catalog {path}: model '{name}' dtype '{dtype}' is not one of {', '.join(DTYPES)}")
    return Model(
        loras=tuple(_lora(path, name, i, lora) for i, lora in enumerate(spec.get("loras", []))),
        config=_config_source(path, spec.get("config")),
        vae=_config_source(path, spec.get("vae")),
        name=name,
        kind=str(spec["kind"]),
        repo=repo,
        path=_local(path, str(local)) if local is not None else None,
        dtype=dtype,
        size_multiple=int(spec.get("size_multiple", 8)),
        frame_step=int(spec.get("frame_step", 1)),
        max_side=int(spec["max_side"]) if spec.get("max_side") else None,
        max_frames=int(spec["max_frames"]) if spec.get("max_frames") else None,
        fps=int(spec.get("fps", 16)),
        max_new_tokens=int(spec.get("max_new_tokens", 200)),
        revision=str(spec["revision"]) if spec.get("revision") and repo is not None else None,
        vace=str(spec["vace"]) if spec.get("vace") else None,
        flow_shift=float(spec["flow_shift"]) if spec.get("flow_shift") is not None else None,
        sampler=str(spec["sampler"]) if spec.get("sampler") else None,
    )


def _bucket(name: str, spec: dict[str, Any]) -> Bucket:
    return Bucket(name=name, max_mb=float(spec["max_mb"]) if "max_mb" in spec else None,
                  mime=tuple(spec.get("mime", [])), public=bool(spec.get("public", False)))


def _prompt(name: str, spec: dict[str, Any]) -> Prompt:
    return Prompt(
        name=name,
        system=str(spec["system"]),
        token_limit=int(spec["token_limit"]) if "token_limit" in spec else None,
        tokenizer_model=spec.get("tokenizer_model"),
        tokenizer_subfolder=str(spec.get("tokenizer_subfolder", "tokenizer")),
        max_new_tokens=int(spec["max_new_tokens"]) if "max_new_tokens" in spec else None,
    )


def _job_type(name: str, spec: dict[str, Any]) -> JobType:
    width, height = parse_size(spec["size"])
    return JobType(
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
        sampler=str(spec["sampler"]) if spec.get("sampler") else None,
        shift=float(spec["shift"]) if spec.get("shift") is not None else None,
    )


def _build(path: Path, raw: dict[str, Any]) -> Catalog:
    models = {name: _model(path, name, spec) for name, spec in _entries(raw, "models", path).items()}
    buckets = {name: _bucket(name, spec) for name, spec in _entries(raw, "buckets", path).items()}
    prompts = {name: _prompt(name, spec) for name, spec in _entries(raw, "prompts", path, required=False).items()}
    for p in prompts.values():
        if p.tokenizer_model is not None and p.tokenizer_model not in models:
            raise CatalogError(f"catalog {path}: prompt '{p.name}' measures with model '{p.tokenizer_model}', "
                               "which [models] does not define")
    for m in models.values():
        if m.vace is not None and (m.vace not in models or models[m.vace].kind != "wan_vace"):
            raise CatalogError(f"catalog {path}: model '{m.name}' takes reference frames through vace = '{m.vace}', "
                               "which must be a [models] entry of kind \"wan_vace\"")
    enhancer = raw.get("enhancer")
    if enhancer is not None and enhancer not in models:
        raise CatalogError(f"catalog {path}: enhancer = '{enhancer}' is not a model in [models]")
    job_types = {name: _job_type(name, spec) for name, spec in _entries(raw, "job_types", path).items()}
    for jt in job_types.values():
        _check_job_type(path, jt, models, buckets, prompts)
    loras = {name: _lora(path, f"loras.{name}", 0, spec)
             for name, spec in _entries(raw, "loras", path, required=False).items()}
    return Catalog(path=path, models=models, buckets=buckets, prompts=prompts, job_types=job_types,
                   smoke=bool(raw.get("smoke", False)), max_attempts=int(raw.get("max_attempts", 3)),
                   enhancer=enhancer, loras=loras)


def _local(path: Path, raw: str) -> Path:
    resolved = Path(os.path.expanduser(raw))
    return resolved if resolved.is_absolute() else (path.parent / resolved).resolve()


def _lora(path: Path, model: str, i: int, spec: Any) -> Lora:
    if not isinstance(spec, dict) or (("path" in spec) == ("repo" in spec)):
        raise CatalogError(f"catalog {path}: model '{model}' LoRA {i + 1} needs exactly one of path = ... or "
                           "repo = ..., and optionally weight and weight_name")
    try:
        weight = float(spec.get("weight", 1.0))
    except (TypeError, ValueError):
        raise CatalogError(f"catalog {path}: model '{model}' LoRA {i + 1} weight must be a number") from None
    local = "path" in spec
    return Lora(source=str(_local(path, str(spec["path"]))) if local else str(spec["repo"]), local=local,
                weight=weight, weight_name=spec.get("weight_name"),
                revision=str(spec["revision"]) if spec.get("revision") and not local else None)


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
    if not bucket.accepts(MIME_BY_OUTPUT[jt.output]):
        raise CatalogError(f"{where}: bucket '{jt.bucket}' does not accept {MIME_BY_OUTPUT[jt.output]}")
    if jt.enhancer is not None and jt.enhancer not in models:
        raise CatalogError(f"{where} uses enhancer '{jt.enhancer}', which [models] does not define")
    if jt.enhancer is not None or jt.enhance_prompt is not None:
        if jt.enhance_prompt not in prompts:
            raise CatalogError(f"{where} uses prompt template '{jt.enhance_prompt}', which [prompts] does not define")
    check_shape(where, models[jt.model], jt.width, jt.height, jt.frames, jt.output, CatalogError)


def check_shape(
    where: str, model: Model, width: int, height: int, frames: int | None, output: str, error: type[UsageError]
) -> None:
    lo, hi = LIMITS["side"]
    hi = min(hi, model.max_side or hi)
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
        if model.max_frames and frames > model.max_frames:
            raise error(f"{where}: {frames} frames is more than model '{model.name}' takes ({model.max_frames})")
        if output == "mp4" and frames < 2:
            raise error(f"{where}: a video needs at least 2 frames, got {frames}")


