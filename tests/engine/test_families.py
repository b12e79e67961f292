"""Each model family on its tiny model, diffusers-style: load, 2 steps, the output's shape and a slice of
its values, the dtype and device of every component. The end-to-end CLI tests prove the wiring; these
prove the family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ourvidz_cli.catalog.job import Lora, ModelRef
from ourvidz_cli.engine.families.registry import FAMILIES, family
from ourvidz_cli.engine.families.request import GenRequest
from ourvidz_cli.errors import CatalogError


@pytest.fixture(scope="module")
def torch():  # noqa: ANN201
    from ourvidz_cli.engine.models import libraries

    libraries.quiet()
    import torch

    return torch


def ref(smoke_root: Path, kind: str) -> ModelRef:
    return ModelRef(kind, kind, str(smoke_root / "models" / kind), True, "float32")


def components(pipe) -> dict:  # noqa: ANN001
    return {name: part for name, part in pipe.components.items() if hasattr(part, "parameters")}


def test_sdxl_two_steps(smoke_root: Path, torch) -> None:  # noqa: ANN001
    fam = family("sdxl")
    pipe = fam.load(ref(smoke_root, "sdxl"), "cpu", torch.float32)
    assert all(p.dtype == torch.float32 and p.device.type == "cpu"
               for part in components(pipe).values() for p in part.parameters())
    steps = []
    out = fam.generate(pipe, GenRequest("a lighthouse at dawn", "", 2, 64, 64, None, 1, 5.0, 0),
                       lambda done, total: steps.append((done, total)))
    image = np.asarray(out.images[0])
    assert image.shape == (64, 64, 3) and steps == [(1, 2), (2, 2)] and out.sampler == "EulerDiscreteScheduler"
    expected = np.array([133, 142, 123, 134, 143, 126, 134, 127, 124])
    assert np.abs(image[-3:, -3:, -1].flatten().astype(int) - expected).max() <= 2


def test_wan_two_steps(smoke_root: Path, torch) -> None:  # noqa: ANN001
    fam = family("wan")
    pipe = fam.load(ref(smoke_root, "wan"), "cpu", torch.float32)
    assert pipe.vae.dtype == torch.float32  # Wan's VAE stays float32 whatever the model's dtype
    out = fam.generate(pipe, GenRequest("a lighthouse at dawn", "", 2, 48, 80, 5, 1, 5.0, 0), lambda d, t: None)
    video = out.videos[0]
    assert video.shape == (5, 80, 48, 3) and video.dtype == np.uint8 and out.sampler == "UniPCMultistepScheduler"
    expected = np.array([125, 124, 140, 124, 126, 135, 127, 130, 132])
    assert np.abs(video[-1, -3:, -3:, -1].flatten().astype(int) - expected).max() <= 2
    still = fam.generate(pipe, GenRequest("a lighthouse", "", 2, 48, 80, 1, 2, 5.0, 0), lambda d, t: None)
    assert not still.videos and [im.size for im in still.images] == [(48, 80), (48, 80)]


def test_qwen_answers_greedily(smoke_root: Path, torch) -> None:  # noqa: ANN001
    fam = family("qwen")
    loaded = fam.load(ref(smoke_root, "qwen"), "cpu", torch.float32)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    messages = [{"role": "system", "content": "rewrite"}, {"role": "user", "content": "a lighthouse at dawn"}]
    first = fam.chat(loaded, messages, 12)
    # Greedy: the same answer twice; the smoke Qwen is trained for seconds at build time, so it answers
    # in the corpus's words even to a system prompt it never saw.
    assert first == fam.chat(loaded, messages, 12) and first.startswith("a lighthouse")
    lora = ModelRef("qwen", "qwen", str(smoke_root / "models" / "qwen"), True, "float32",
                    loras=(Lora("x.safetensors", True),))
    with pytest.raises(ValueError, match="LoRAs"):
        fam.load(lora, "cpu", torch.float32)


def test_registry_declares_what_the_rest_of_the_code_asks() -> None:
    for kind, fam in FAMILIES.items():
        assert fam.kind == kind and fam.marker and fam.pull_allow and callable(fam.build_smoke)
        makes = callable(getattr(fam, "generate", None)) or callable(getattr(fam, "chat", None))
        assert makes or getattr(fam, "companion_of", None) in FAMILIES  # VACE runs inside Wan's pipelines
    assert FAMILIES["wan"].fp32_components == ("vae",) and FAMILIES["wan"].ram_component == "text_encoder"
    with pytest.raises(CatalogError, match="not supported"):
        family("flux")


@pytest.mark.parametrize("kind", ["sdxl", "wan", "qwen"])
def test_every_component_loads_in_the_asked_dtype(smoke_root: Path, torch, kind: str) -> None:  # noqa: ANN001
    """diffusers before 0.40 and transformers before 4.56 take `dtype=` without a word and load float32:
    twice the memory the engine planned for. bfloat16 runs on a CPU, so the load path is checked here."""
    fam = family(kind)
    loaded = fam.load(ref(smoke_root, kind), "cpu", torch.bfloat16)
    parts = components(loaded) if hasattr(loaded, "components") else {"model": loaded.model}
    wrong = []
    for name, part in parts.items():
        keep = set(getattr(part, "_keep_in_fp32_modules", None) or ())  # the library's own fp32 islands
        for pname, p in part.named_parameters():
            allowed = {torch.float32} if name in fam.fp32_components else {torch.bfloat16}
            if keep & set(pname.split(".")):  # the library may keep these in float32 (or not)
                allowed.add(torch.float32)
            if p.dtype not in allowed:
                wrong.append(f"{name}.{pname}: {p.dtype}")
    assert parts and not wrong, wrong[:5]


def test_offload_leaves_the_encoder_kept_in_ram_off_the_device(smoke_root: Path, torch) -> None:  # noqa: ANN001
    # The out-of-memory retry switches on model offload. Wan's UMT5 encoder, kept in RAM to fit the budget,
    # must stay out of the offload hooks, or its first prompt moves all of it onto the device. The hooks'
    # device is the CPU here (no GPU), which exercises the same accelerate hooks a CUDA retry gets.
    from ourvidz_cli.engine.families import diffusers_common as common
    from ourvidz_cli.engine.families.wan import ENCODER_ON_CPU

    fam = family("wan")
    request = GenRequest("a lighthouse at dawn", "", 2, 48, 80, 5, 1, 5.0, 0)
    pipe = fam.load(ref(smoke_root, "wan"), "cpu", torch.float32, mode=ENCODER_ON_CPU)
    before = fam.generate(pipe, request, lambda d, t: None).videos[0]
    common.offload(pipe, "cpu", fam.ram_component)
    assert hasattr(pipe.transformer, "_hf_hook") and hasattr(pipe.vae, "_hf_hook")
    assert not hasattr(pipe.text_encoder, "_hf_hook") and pipe.text_encoder is not None
    after = fam.generate(pipe, request, lambda d, t: None).videos[0]
    assert np.array_equal(before, after)
    plain = fam.load(ref(smoke_root, "wan"), "cpu", torch.float32, mode=ENCODER_ON_CPU)
    plain.enable_model_cpu_offload(device="cpu")  # what the retry did before: the encoder under a hook
    assert hasattr(plain.text_encoder, "_hf_hook")
