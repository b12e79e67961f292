"""The seed's job structure on the Redis lists, both ways.

Out (`to_item`): `id` (a uuid), `type`, `prompt`, `config` with every value resolved (seed included, so
any worker makes the same output), `user_id`, `created_at` (ISO 8601, as the seed's backend writes it)
and `status`. In (`parse_item`): anything the seed's own backend pushes. Missing `config` values take
this machine's catalog defaults for the type; unknown fields are kept in the job's metadata; an item
that is not a job (not JSON, no usable id, unknown type, values the catalog refuses) raises `NotAJob`
with the reason, which the worker files in the dead-letter list.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import UsageError

if TYPE_CHECKING:
    from ourvidz_cli.catalog.resolve import JobSpec
    from ourvidz_cli.catalog.schema import Catalog

ITEM_FIELDS = ("id", "type", "prompt", "config", "user_id", "created_at", "status")
# A job id and user id end up in object paths and Redis keys: plain characters only.
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# config key -> our override name, in order of precedence: our own names, the real app's
# (`num_inference_steps`, `guidance_scale`, `num_images`), then the older Wan worker's (`sample_steps`,
# `sample_guide_scale`, `frame_num`).
_CONFIG_KEYS = {"steps": "steps", "num_inference_steps": "steps", "sample_steps": "steps",
                "frames": "frames", "frame_num": "frames", "count": "count", "num_images": "count",
                "guidance": "guidance", "guidance_scale": "guidance", "sample_guide_scale": "guidance",
                "seed": "seed", "negative_prompt": "negative", "negative": "negative", "enhance": "enhance",
                "priority": "priority", "max_attempts": "max_attempts", "sampler": "sampler",
                "sample_solver": "sampler", "shift": "shift", "sample_shift": "shift", "model": "model"}
_INFORMATIONAL = ("width", "height", "size", "resolution", "bucket", "fps", "output")


class NotAJob(Exception):
    """An item no worker can run; the message is the dead-letter reason."""

    def __init__(self, reason: str, job_id: str | None = None) -> None:
        super().__init__(reason)
        self.job_id = job_id


@dataclass(frozen=True)
class RemoteJob:
    """One item from a queue, resolved against this machine's catalog."""

    id: str
    raw: str  # the item exactly as it sits in the list (what LREM must match)
    spec: JobSpec
    user_id: str | None
    created_at: float | None
    meta: dict[str, Any] = field(default_factory=dict)  # fields and config keys we do not use, kept
    seed_given: bool = False  # the item names its seed (else each parse draws one)
    pictures: tuple[Any, ...] = ()  # reference images fetched for it (library.inputs.Prepared), to store


def queue_for(catalog: Catalog, job_type: str) -> str:
    """SDXL types go to sdxl_queue, Wan and enhanced types to wan_queue: the model's kind names it."""
    jt = catalog.job_type(job_type)
    return f"{catalog.models[jt.model].kind}_queue"


def to_item(spec: JobSpec, user_id: str | None, job_id: str | None = None) -> dict[str, Any]:
    cfg = spec.config
    config = {"steps": cfg.steps, "width": cfg.width, "height": cfg.height, "frames": cfg.frames,
              "count": cfg.count, "guidance": cfg.guidance, "negative_prompt": cfg.negative, "seed": cfg.seed,
              "enhance": cfg.enhancer is not None, "priority": spec.priority, "max_attempts": spec.max_attempts,
              "model": cfg.model.name, "bucket": cfg.bucket}
    return {"id": job_id or str(uuid.uuid4()), "type": spec.job_type, "prompt": spec.prompt, "config": config,
            "user_id": user_id, "created_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "status": "queued"}


def parse_time(value: Any) -> float | None:
    """Epoch seconds (or milliseconds) or ISO 8601; None when absent or unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=UTC).timestamp()
    return None


# Integers a double holds exactly: the Lua scripts read ids through cjson, which keeps numbers as doubles.
_EXACT_INT = 2**53


def unwrap(raw: str) -> tuple[Any, bool]:
    """The item's JSON, and whether it came wrapped: the real app's `queue-job` pushes through Upstash's
    path form with the body `["<payload JSON>"]`, which Upstash stores as that one-element array."""
    data = json.loads(raw)
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], str):
        try:
            return json.loads(data[0]), True
        except ValueError:
            return data, False
    return data, False


def item_id(raw: str) -> str | None:
    """The id of an item, when it has a usable one, by the same rule as the Lua scripts (`scripts._ID`):
    plain characters, or a whole number in [0, 2^53) written in digits."""
    try:
        data, _ = unwrap(raw)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 42.0 and 42 are one number to cjson
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value) if 0 <= value < _EXACT_INT else ""
    else:
        text = value if isinstance(value, str) else ""
    return text if _PLAIN_ID.fullmatch(text) else None


def _overrides(config: dict[str, Any], top: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The settings an item asks for, and (in `meta["fields"]`) which field each one came from."""
    over: dict[str, Any] = {}
    came: dict[str, str] = {}
    for key, name in _CONFIG_KEYS.items():  # the first name present wins
        if config.get(key) is not None and name not in over:
            over[name], came[name] = config[key], f"config.{key}"
    if "negative" not in over and top.get("negative_prompt") is not None:
        over["negative"], came["negative"] = top["negative_prompt"], "negative_prompt"
    for key, value in (("resolution", config.get("resolution")), ("width/height", _wxh(config)),
                       ("size", config.get("size"))):
        if value is not None:
            over["size"], came["size"] = str(value).replace("*", "x"), f"config.{key}"
            break
    extra = {k: v for k, v in config.items() if k not in _CONFIG_KEYS and k not in _INFORMATIONAL}
    if extra:
        meta["config_extra"] = extra
    if came:
        meta["fields"] = came
    return over


def _wxh(config: dict[str, Any]) -> str | None:
    width, height = config.get("width"), config.get("height")
    return f"{width}x{height}" if width is not None and height is not None else None


def parse_item(raw: str, catalog: Catalog, fetch: Callable[[str], Any] | None = None) -> RemoteJob:
    try:
        data, wrapped = unwrap(raw)
    except ValueError as exc:
        raise NotAJob(f"not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise NotAJob(f"not a job object but a JSON {type(data).__name__}")
    job_id = item_id(raw)
    if job_id is None:
        raise NotAJob(f"no usable id (want letters, digits, '.', '_' or '-'), got {data.get('id')!r:.60}")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise NotAJob(f"config is a JSON {type(config).__name__}, not an object", job_id)
    meta = {k: v for k, v in data.items() if k not in ITEM_FIELDS and k != "negative_prompt"}
    if wrapped:
        meta["unwrapped"] = "the item was a one-element JSON array holding the job (Upstash's path form)"
    user = data.get("user_id")
    if user is not None and not _PLAIN_ID.fullmatch(str(user)):
        raise NotAJob(f"user_id {str(user)[:60]!r} is not a plain id", job_id)
    from ourvidz_cli.catalog.resolve import resolve_job
    from ourvidz_cli.remote.references import RefusedReference, exact_copy, references

    over = _overrides(config, data, meta)
    copying = bool(isinstance(data.get("metadata"), dict) and data["metadata"].get("exact_copy_mode"))
    try:
        given, pictures = references(data, config, fetch)
        over = exact_copy({**over, **given}) if copying else {**over, **given}
        spec = resolve_job(catalog, str(data.get("type") or ""), data.get("prompt"), over, empty_prompt=copying)
    except (UsageError, ValueError, TypeError, RefusedReference) as exc:
        raise NotAJob(str(exc), job_id) from None
    return RemoteJob(id=job_id, raw=raw, spec=spec, user_id=None if user is None else str(user),
                     created_at=parse_time(data.get("created_at")), meta=meta,
                     seed_given=config.get("seed") is not None, pictures=pictures)


def dead_entry(raw: str, queue: str, reason: str, worker: str) -> str:
    return json.dumps({"id": item_id(raw), "queue": queue, "reason": reason, "worker": worker,
                       "at": time.time(), "item": raw[:20000]})
