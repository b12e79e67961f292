"""bench/full_models.py at reduced width: the real SDXL, Wan 2.1 (with a UMT5 encoder) and Qwen2.5
classes from their published configs, saved in the dtypes the catalog loads, a CausVid-shaped LoRA in
the original Wan key names that diffusers converts and ourvidz fuses at load, and a catalog overlay
that `ourvidz` runs as is. The real size is for a GPU (bench/e2e_gpu.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from ourvidz_cli.catalog.load import load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, smoke_root: Path) -> Path:
    out = tmp_path_factory.mktemp("full")
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "full_models.py"), "--out", str(out), "--tiny",
                           "--device", "cpu", "--tokenizers", str(smoke_root / "models")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip())


def _dtypes(path: Path) -> set[str]:
    with safe_open(str(path), "pt") as fh:
        return {str(fh.get_slice(k).get_dtype()) for k in fh.keys()}  # noqa: SIM118


def test_models_are_the_published_architectures_in_the_downloaded_dtypes(built: Path) -> None:
    out = built.parent
    wan = json.loads((out / "wan" / "transformer" / "config.json").read_text())
    umt5 = json.loads((out / "wan" / "text_encoder" / "config.json").read_text())
    qwen = json.loads((out / "qwen" / "config.json").read_text())
    assert wan["_class_name"] == "WanTransformer3DModel" and wan["qk_norm"] == "rms_norm_across_heads"
    assert umt5["architectures"] == ["UMT5EncoderModel"] and umt5["d_model"] == wan["text_dim"]
    assert qwen["architectures"] == ["Qwen2ForCausalLM"] and qwen["vocab_size"] == 152064
    assert _dtypes(out / "sdxl" / "unet" / "diffusion_pytorch_model.safetensors") == {"F16"}
    assert _dtypes(out / "wan" / "transformer" / "diffusion_pytorch_model.safetensors") == {"BF16"}
    assert _dtypes(out / "wan" / "vae" / "diffusion_pytorch_model.safetensors") == {"F32"}
    assert _dtypes(out / "qwen" / "model.safetensors") == {"BF16"}
    cat = load_catalog(built)
    assert [lora.source for lora in cat.models["wan"].loras] == [
        str(out / "loras" / "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors")]


def test_the_causvid_shaped_lora_is_converted_and_fused(built: Path) -> None:
    from dataclasses import replace

    import torch

    from ourvidz_cli.engine.families.registry import family

    ref = load_catalog(built).models["wan"].as_ref()
    fused = family("wan").load(ref, "cpu", torch.float32)
    plain = family("wan").load(replace(ref, loras=()), "cpu", torch.float32)
    for name in ("blocks.0.attn1.to_q.weight", "blocks.1.attn2.to_out.0.weight", "blocks.1.ffn.net.2.weight"):
        a, b = fused.transformer.state_dict()[name], plain.transformer.state_dict()[name]
        assert a.shape == b.shape and not torch.equal(a, b), name
    assert not any("lora" in k for k in fused.transformer.state_dict())  # fused, adapters unloaded


def test_ourvidz_runs_the_overlay(built: Path, tmp_path: Path) -> None:
    env = {"OURVIDZ_HOME": str(tmp_path / "home"), "OURVIDZ_CONFIG": str(built), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "generate", "video_fast", "a lighthouse at dawn",
                           "--steps", "1", "--seed", "1", "--json"], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "completed" and Path(result["outputs"][0]).stat().st_size > 0
