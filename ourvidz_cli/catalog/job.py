"""The typed job: everything one job needs to run, resolved once from the catalog and stored as JSON.

`JobConfig.to_dict()` is exactly the JSON the ledger has always stored, and `from_dict` reads every
shape a released ourvidz wrote (including jobs from before prompt targets existed), so old ledgers keep
working. Keys this release does not know are kept in `extra` and written back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Lora:
    """A LoRA fused at load: a local file or folder, or a Hugging Face repo (with weight_name)."""

    source: str
    local: bool
    weight: float = 1.0
    weight_name: str | None = None
    revision: str | None = None  # a Hugging Face commit; None: whatever `main` is

    def to_dict(self) -> dict[str, Any]:
        d = {"source": self.source, "local": self.local, "weight": self.weight, "weight_name": self.weight_name}
        return {**d, "revision": self.revision} if self.revision else d  # unpinned: the JSON jobs always had

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lora:
        return cls(str(d["source"]), bool(d.get("local")), float(d.get("weight", 1.0)), d.get("weight_name"),
                   d.get("revision"))


@dataclass(frozen=True)
class AdapterRef:
    """A LoRA chosen for one job (catalog.loras): loaded as a named adapter beside the model, never fused."""

    name: str
    path: str
    weight: float
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "weight": self.weight, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AdapterRef:
        return cls(str(d["name"]), str(d["path"]), float(d.get("weight", 1.0)), str(d["sha256"]))


@dataclass(frozen=True)
class ModelRef:
    """Which weights to load and how: what the engine keys its warm models on."""

    name: str
    kind: str
    source: str
    local: bool
    dtype: str
    fps: int = 16
    max_new_tokens: int = 200
    loras: tuple[Lora, ...] = ()
    config: str | None = None  # a single-file checkpoint's diffusers config folder or repo
    vae: str | None = None  # a replacement VAE
    revision: str | None = None  # a Hugging Face commit of `source`; None: whatever `main` is
    vae_revision: str | None = None  # a Hugging Face commit of `vae`, once a job pinned it
    flow_shift: float | None = None  # the sampler's flow shift, when the catalog sets one for this model

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": self.kind, "source": self.source, "local": self.local,
             "dtype": self.dtype, "fps": self.fps, "max_new_tokens": self.max_new_tokens,
             "loras": [lora.to_dict() for lora in self.loras], "config": self.config, "vae": self.vae}
        d = {**d, "revision": self.revision} if self.revision else d
        d = {**d, "vae_revision": self.vae_revision} if self.vae_revision else d  # unpinned: the old JSON
        return {**d, "flow_shift": self.flow_shift} if self.flow_shift is not None else d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelRef:
        return cls(name=str(d["name"]), kind=str(d["kind"]), source=str(d["source"]), local=bool(d.get("local")),
                   dtype=str(d.get("dtype", "float16")), fps=int(d.get("fps", 16)),
                   max_new_tokens=int(d.get("max_new_tokens", 200)),
                   loras=tuple(Lora.from_dict(x) for x in d.get("loras") or ()), config=d.get("config"),
                   vae=d.get("vae"), revision=d.get("revision"), vae_revision=d.get("vae_revision"),
                   flow_shift=d.get("flow_shift"))


@dataclass(frozen=True)
class TokenizerRef:
    """The tokenizer that measures an enhanced prompt: the one of the model that will read it."""

    model: str
    source: str
    subfolder: str = "tokenizer"


@dataclass(frozen=True)
class EnhanceSpec:
    """How Qwen rewrites a prompt for one target, and the token budget the answer must fit."""

    target: str
    system: str
    max_new_tokens: int
    token_limit: int | None = None
    tokenizer: TokenizerRef | None = None

    def to_dict(self) -> dict[str, Any]:
        tok = self.tokenizer
        return {"target": self.target, "system": self.system, "token_limit": self.token_limit,
                "tokenizer": None if tok is None else {"model": tok.model, "source": tok.source,
                                                       "subfolder": tok.subfolder},
                "max_new_tokens": self.max_new_tokens}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnhanceSpec:
        tok = d.get("tokenizer")
        return cls(target=str(d["target"]), system=str(d["system"]), max_new_tokens=int(d["max_new_tokens"]),
                   token_limit=d.get("token_limit"),
                   tokenizer=TokenizerRef(tok["model"], tok["source"], tok.get("subfolder", "tokenizer"))
                   if tok else None)


@dataclass(frozen=True)
class ImageInput:
    """What a job starts from, as files in the data home named by their sha256 (library.inputs): an image
    (image-to-image; with a mask, inpainting), a video (video-to-video), or reference frames for Wan's VACE
    (first frame, last frame, subject references)."""

    image: str | None = None  # inputs/<sha256>.<ext>
    strength: float = 0.75  # how far from the image or video: 1.0 repaints it entirely
    fit: str = "letterbox"
    mask: str | None = None
    invert_mask: bool = False
    first_frame: str | None = None
    last_frame: str | None = None
    refs: tuple[str, ...] = ()
    video: str | None = None

    @property
    def frames_in(self) -> bool:
        """Reference frames: the job runs through VACE."""
        return bool(self.first_frame or self.last_frame or self.refs)

    def files(self) -> list[str]:
        """Every stored input this job reads."""
        named = [self.image, self.mask, self.first_frame, self.last_frame, *self.refs, self.video]
        return [n for n in named if n]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"image": self.image, "strength": self.strength, "fit": self.fit, "mask": self.mask,
                             "invert_mask": self.invert_mask}
        extra = {"first_frame": self.first_frame, "last_frame": self.last_frame, "refs": list(self.refs) or None,
                 "video": self.video}
        return {**d, **{k: v for k, v in extra.items() if v}}  # an image job: the JSON it always had

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageInput:
        return cls(d.get("image"), float(d.get("strength", 0.75)), str(d.get("fit", "letterbox")), d.get("mask"),
                   bool(d.get("invert_mask")), d.get("first_frame"), d.get("last_frame"),
                   tuple(d.get("refs") or ()), d.get("video"))


# The keys JobConfig owns; anything else in a stored config is carried through `extra`.
_OWN = ("job_type", "model", "enhancer", "enhance", "steps", "width", "height", "frames", "fps", "count",
        "guidance", "negative", "seed", "output", "mime", "bucket", "smoke", "catalog", "inputs", "vace",
        "sampler", "shift", "weighting", "adapters", "variation_seed", "variation_strength", "template",
        "per_image")


@dataclass(frozen=True)
class JobConfig:
    """A fully resolved job: the ledger's `config` column, typed."""

    job_type: str
    model: ModelRef
    steps: int
    width: int
    height: int
    frames: int | None
    fps: int
    count: int
    guidance: float
    negative: str
    seed: int
    output: str  # "png" or "mp4"
    mime: str
    bucket: str
    enhancer: ModelRef | None = None
    enhance: EnhanceSpec | None = None
    smoke: bool = False
    catalog: str = ""
    inputs: ImageInput | None = None
    vace: ModelRef | None = None  # reference frames: the VACE transformer loaded beside `model`
    sampler: str | None = None  # a name from the family's sampler table; None: the model's own scheduler
    shift: float | None = None  # Wan's flow shift for this job; None: the model's
    # Prompt weighting syntax is read (prompts.weights); jobs from before it existed read their prompt
    # literally, so they rerun to the same pixels even with brackets in it.
    weighting: bool = False
    adapters: tuple[AdapterRef, ...] = ()  # LoRAs for this job (--lora, <lora:...>), beside the model's fused ones
    variation_seed: int | None = None  # the starting noise leans towards this seed's (engine.families.variation)
    variation_strength: float | None = None
    template: str | None = None  # the prompt as written, when it held {a|b} or __wildcards__ (prompts.wildcards)
    per_image: tuple[str, ...] = ()  # each image's own expansion of the template (SDXL batches, --per-image)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_video(self) -> bool:
        return self.output == "mp4"

    def with_seed(self, seed: int) -> JobConfig:
        return replace(self, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        d = {
            **self.extra,
            "job_type": self.job_type, "model": self.model.to_dict(),
            "enhancer": self.enhancer.to_dict() if self.enhancer else None,
            "enhance": self.enhance.to_dict() if self.enhance else None,
            "steps": self.steps, "width": self.width, "height": self.height, "frames": self.frames,
            "fps": self.fps, "count": self.count, "guidance": self.guidance, "negative": self.negative,
            "seed": self.seed, "output": self.output, "mime": self.mime, "bucket": self.bucket,
            "smoke": self.smoke, "catalog": self.catalog,
        }
        d = {**d, "inputs": self.inputs.to_dict()} if self.inputs else d  # from text: the JSON jobs always had
        d = {**d, "vace": self.vace.to_dict()} if self.vace else d
        chosen = {"sampler": self.sampler, "shift": self.shift,  # only when chosen: old jobs keep their JSON
                  "weighting": self.weighting or None,
                  "adapters": [a.to_dict() for a in self.adapters] or None,
                  "variation_seed": self.variation_seed, "variation_strength": self.variation_strength,
                  "template": self.template, "per_image": list(self.per_image) or None}
        return {**d, **{k: v for k, v in chosen.items() if v is not None}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobConfig:
        enhancer = ModelRef.from_dict(d["enhancer"]) if d.get("enhancer") else None
        return cls(
            job_type=str(d.get("job_type", "")), model=ModelRef.from_dict(d["model"]), steps=int(d["steps"]),
            width=int(d["width"]), height=int(d["height"]), frames=d.get("frames"),
            fps=int(d.get("fps", d["model"].get("fps", 16))), count=int(d.get("count", 1)),
            guidance=float(d["guidance"]), negative=str(d.get("negative") or ""), seed=int(d["seed"]),
            output=str(d["output"]), mime=str(d.get("mime", "")), bucket=str(d["bucket"]), enhancer=enhancer,
            enhance=_enhance_spec(d, enhancer), smoke=bool(d.get("smoke")), catalog=str(d.get("catalog", "")),
            inputs=ImageInput.from_dict(d["inputs"]) if d.get("inputs") else None,
            vace=ModelRef.from_dict(d["vace"]) if d.get("vace") else None,
            sampler=d.get("sampler"), shift=float(d["shift"]) if d.get("shift") is not None else None,
            weighting=bool(d.get("weighting")),
            adapters=tuple(AdapterRef.from_dict(a) for a in d.get("adapters") or ()),
            variation_seed=d.get("variation_seed"), variation_strength=d.get("variation_strength"),
            template=d.get("template"), per_image=tuple(d.get("per_image") or ()),
            extra={k: v for k, v in d.items() if k not in _OWN},
        )


def _enhance_spec(d: dict[str, Any], enhancer: ModelRef | None) -> EnhanceSpec | None:
    if d.get("enhance"):
        return EnhanceSpec.from_dict(d["enhance"])
    if enhancer is not None and d.get("enhance_system"):
        # Jobs stored before prompt targets existed carried only a system prompt.
        return EnhanceSpec(target="legacy", system=str(d["enhance_system"]), max_new_tokens=enhancer.max_new_tokens)
    return None
