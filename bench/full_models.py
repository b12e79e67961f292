"""Real-size random-weight models for the end-to-end GPU benchmark: SDXL (UNet, both CLIP text
encoders, VAE), Wan 2.1 T2V 1.3B with its UMT5-XXL encoder, and Qwen2.5-7B-Instruct, built from their
published configs (bench/configs/) with random weights and the smoke tokenizers, saved with
save_pretrained in the dtypes the catalog loads them in; a random LoRA of the CausVid shape (rank 32 on
every attention and FFN projection of the 30 Wan blocks, in the original Wan key names Kijai's file
uses, so diffusers' conversion runs) fused at load; and a catalog overlay (DIR/models.toml) pointing
at all of it. Nothing is downloaded.

Run on a GPU machine:  python bench/full_models.py --out DIR --device cuda     (~37 GB on disk)
Check the code path on CPU:  python bench/full_models.py --out DIR --tiny    (reduced widths, seconds)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

CONFIGS = Path(__file__).parent / "configs"
LORA_NAME = "Wan21_CausVid_bidirect2_T2V_1_3B_lora_rank32.safetensors"
LORA_RANK = 32
# Reduced widths for --tiny: the same classes and code paths, small enough for a CPU.
TINY = {
    "sdxl_unet.json": {"block_out_channels": [32, 64, 64], "attention_head_dim": [2, 4, 4],
                       "transformer_layers_per_block": [1, 1, 1], "cross_attention_dim": 96,
                       "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80,
                       "norm_num_groups": 8, "layers_per_block": 1},
    "sdxl_vae.json": {"block_out_channels": [32, 32, 64, 64], "norm_num_groups": 8, "layers_per_block": 1},
    "sdxl_text_encoder.json": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                               "num_hidden_layers": 2, "projection_dim": 32},
    "sdxl_text_encoder_2.json": {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                                 "num_hidden_layers": 2, "projection_dim": 32},
    "wan_transformer.json": {"num_attention_heads": 2, "attention_head_dim": 16, "ffn_dim": 64, "num_layers": 2,
                             "text_dim": 64, "freq_dim": 32},
    "wan_vae.json": {"base_dim": 8},
    "wan_umt5_xxl.json": {"d_model": 64, "d_ff": 128, "d_kv": 16, "num_heads": 4, "num_layers": 2,
                          "num_decoder_layers": 2},
    "qwen2_5_7b_instruct.json": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                                 "num_attention_heads": 4, "num_key_value_heads": 2},
}


def config(name: str, tiny: bool) -> dict[str, Any]:
    cfg = {k: v for k, v in json.loads((CONFIGS / name).read_text()).items() if not k.startswith("_")}
    return {**cfg, **(TINY[name] if tiny else {})}


@contextlib.contextmanager
def building(device: str, dtype: torch.dtype) -> Iterator[None]:
    """Parameters are created on `device` in `dtype`: a 7B model initialises in seconds on a GPU."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(old)


def _free(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def build_sdxl(target: Path, smoke: Path, device: str, tiny: bool) -> None:
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    stock = StableDiffusionXLPipeline.from_pretrained(smoke)  # its tokenizers and scheduler
    ids = {"bos_token_id": stock.tokenizer.bos_token_id, "eos_token_id": stock.tokenizer.eos_token_id,
           "pad_token_id": stock.tokenizer.pad_token_id}
    with building(device, torch.float16):
        unet = UNet2DConditionModel.from_config(config("sdxl_unet.json", tiny))
        vae = AutoencoderKL.from_config(config("sdxl_vae.json", tiny))
        text = CLIPTextModel(CLIPTextConfig(**config("sdxl_text_encoder.json", tiny), **ids))
        text_2 = CLIPTextModelWithProjection(CLIPTextConfig(**config("sdxl_text_encoder_2.json", tiny), **ids))
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text, text_encoder_2=text_2, tokenizer=stock.tokenizer,
                                     tokenizer_2=stock.tokenizer_2, unet=unet, scheduler=stock.scheduler)
    pipe.save_pretrained(target)


def build_wan(target: Path, smoke: Path, device: str, tiny: bool) -> dict[str, Any]:
    from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    stock = WanPipeline.from_pretrained(smoke)
    transformer_cfg = config("wan_transformer.json", tiny)
    with building(device, torch.bfloat16):
        transformer = WanTransformer3DModel.from_config(transformer_cfg)
        encoder = UMT5EncoderModel(UMT5Config(**config("wan_umt5_xxl.json", tiny), pad_token_id=0,
                                              eos_token_id=1, decoder_start_token_id=0))
    with building(device, torch.float32):  # Wan's VAE is published and loaded in float32
        vae = AutoencoderKLWan.from_config(config("wan_vae.json", tiny))
    pipe = WanPipeline(tokenizer=stock.tokenizer, text_encoder=encoder, vae=vae, scheduler=stock.scheduler,
                       transformer=transformer)
    pipe.save_pretrained(target)
    return transformer_cfg


def build_causvid_lora(target: Path, transformer_cfg: dict[str, Any]) -> Path:
    """Rank-32 LoRA on q/k/v/o of both attentions and both FFN layers of every block, original Wan names."""
    from safetensors.torch import save_file

    dim = transformer_cfg["num_attention_heads"] * transformer_cfg["attention_head_dim"]
    ffn = transformer_cfg["ffn_dim"]
    shapes = {f"{attn}.{p}": (dim, dim) for attn in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes |= {"ffn.0": (dim, ffn), "ffn.2": (ffn, dim)}  # (in, out)
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for block in range(transformer_cfg["num_layers"]):
        for name, (fan_in, fan_out) in shapes.items():
            key = f"diffusion_model.blocks.{block}.{name}"
            down = torch.randn(LORA_RANK, fan_in, generator=gen) / fan_in ** 0.5
            up = torch.randn(fan_out, LORA_RANK, generator=gen) * 1e-3
            tensors[f"{key}.lora_down.weight"] = down.to(torch.bfloat16)
            tensors[f"{key}.lora_up.weight"] = up.to(torch.bfloat16)
    target.mkdir(parents=True, exist_ok=True)
    save_file(tensors, target / LORA_NAME)
    return target / LORA_NAME


def build_qwen(target: Path, smoke: Path, device: str, tiny: bool) -> None:
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smoke)
    cfg = config("qwen2_5_7b_instruct.json", tiny)
    cfg.update(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    with building(device, torch.bfloat16):
        model = Qwen2ForCausalLM(Qwen2Config(**cfg))
    model.generation_config = GenerationConfig.from_pretrained(smoke)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def overlay(out: Path, lora: Path, tiny: bool) -> Path:
    """The default catalog with its three models replaced by these (and, --tiny, smoke-sized jobs)."""
    lines = ['base = "default"'] + (["smoke = true"] if tiny else []) + [""]
    for name in ("sdxl", "wan", "qwen"):
        lines += [f"[models.{name}]", f'path = "{out / name}"', "repo = false"]
        if name == "sdxl":
            lines.append("vae = false  # the fp16-safe VAE is a download; the random pipeline decodes with its own")
        if name == "wan":
            lines.append(f'loras = [{{ path = "{lora}", weight = 1.0 }}]')
        lines.append("")
    if tiny:  # the smoke profile's sizes and token budgets
        smoke = (Path(__file__).resolve().parent.parent / "ourvidz_cli" / "catalog" / "smoke.toml").read_text()
        lines.append(smoke[smoke.index("[job_types."):])
    catalog = out / "models.toml"
    catalog.write_text("\n".join(lines) + "\n")
    return catalog


def build(out: Path, device: str, tiny: bool, smoke: Path | None = None) -> Path:
    """`smoke`: a smoke models folder whose tokenizers and schedulers to take (default: build one)."""
    from ourvidz_cli.engine.models.smoke import init_smoke

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if smoke is None:
        smoke = init_smoke(out / "tokenizers").parent / "models"
    torch.manual_seed(0)
    # Each builder's models are freed when it returns; the cache goes back before the next one.
    build_sdxl(out / "sdxl", smoke / "sdxl", device, tiny)
    _free(device)
    transformer_cfg = build_wan(out / "wan", smoke / "wan", device, tiny)
    _free(device)
    lora = build_causvid_lora(out / "loras", transformer_cfg)
    build_qwen(out / "qwen", smoke / "qwen", device, tiny)
    shutil.rmtree(out / "tokenizers", ignore_errors=True)
    return overlay(out, lora, tiny)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="reduced widths: the code path on a CPU")
    parser.add_argument("--tokenizers", type=Path, help="a smoke models folder to take tokenizers from")
    args = parser.parse_args()
    catalog = build(args.out, args.device, args.tiny, args.tokenizers)
    print(catalog)


if __name__ == "__main__":
    main()
