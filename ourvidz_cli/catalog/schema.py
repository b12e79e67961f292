"""The catalog's shape (models.toml as frozen dataclasses): models, buckets, prompt targets, job types."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ourvidz_cli.catalog.job import EnhanceSpec, Lora, ModelRef, TokenizerRef
from ourvidz_cli.errors import UsageError

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
    # What the model's position tables reach (the tiny smoke Wan: 512 px, 125 frames); None: no limit.
    max_side: int | None = None
    max_frames: int | None = None
    fps: int = 16
    max_new_tokens: int = 200
    loras: tuple[Lora, ...] = ()  # fused at load
    # For a single-file checkpoint: the diffusers folder or repo whose configs and tokenizers describe it.
    config: str | None = None
    # A replacement VAE (folder or repo id), e.g. the fp16-safe SDXL VAE.
    vae: str | None = None
    revision: str | None = None  # pins a Hugging Face repo to one commit (branch or tag names work too)
    vace: str | None = None  # the catalog model whose VACE transformer takes reference frames for this one
    flow_shift: float | None = None  # the sampler's flow shift for this model (None: the saved scheduler's)
    sampler: str | None = None  # the model's default sampler (None: the saved scheduler)

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
            if lora.local and not Path(lora.source).exists():
                return f"model '{self.name}' uses the LoRA {lora.source}, which does not exist"
        return None

    def as_ref(self) -> ModelRef:
        return ModelRef(name=self.name, kind=self.kind, source=self.source, local=self.path is not None,
                        dtype=self.dtype, fps=self.fps, max_new_tokens=self.max_new_tokens, loras=self.loras,
                        config=self.config, vae=self.vae, revision=self.revision, flow_shift=self.flow_shift)


@dataclass(frozen=True)
class Bucket:
    name: str
    max_mb: float | None
    mime: tuple[str, ...]
    public: bool = False

    def accepts(self, mime: str) -> bool:
        """Storage's rule: an empty list takes anything, `type/*` takes every subtype of that type."""
        if not self.mime or mime in self.mime:
            return True
        major = mime.split("/", 1)[0]
        return any(allowed.endswith("/*") and allowed.split("/", 1)[0] == major for allowed in self.mime)


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
    sampler: str | None = None  # the job type's default sampler (else its model's, else the model's own)
    shift: float | None = None  # the job type's default flow shift

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
    loras: dict[str, Lora] = field(default_factory=dict)  # [loras.NAME]: what --lora NAME and <lora:NAME> load

    def prompt(self, name: str) -> Prompt:
        return lookup(self.prompts, name, "prompt target", f"the catalog has {', '.join(self.prompts)}")

    def enhance_spec(self, enhancer: str, target: str) -> EnhanceSpec:
        """What the runner needs to enhance a prompt for `target`: the system prompt, token budget and
        the tokenizer that measures it (from the catalog model the answer is meant for)."""
        p = self.prompt(target)
        tokenizer = None
        if p.token_limit and p.tokenizer_model:
            model = self.models[p.tokenizer_model]
            # A single-file checkpoint keeps its tokenizers in the diffusers config it names.
            source = model.config if model.single_file and model.config else model.source
            tokenizer = TokenizerRef(model.name, source, p.tokenizer_subfolder)
        return EnhanceSpec(target=target, system=p.system, token_limit=p.token_limit, tokenizer=tokenizer,
                           max_new_tokens=p.max_new_tokens or self.models[enhancer].max_new_tokens)

    def users(self, model: str) -> list[str]:
        """The job types that need a model, to generate or to enhance."""
        return sorted(jt.name for jt in self.job_types.values() if model in (jt.model, jt.enhancer))

    def job_type(self, name: str) -> JobType:
        return lookup(self.job_types, name, "job type", "run 'ourvidz job-types' to list them")


T = TypeVar("T")


def lookup(table: dict[str, T], name: str, what: str, fix: str) -> T:
    """table[name], or a usage error that suggests the closest name."""
    try:
        return table[name]
    except KeyError:
        close = difflib.get_close_matches(name, table, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"unknown {what} '{name}'{hint}; {fix}") from None


