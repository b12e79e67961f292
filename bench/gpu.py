"""GPU benchmark: the real SDXL UNet/VAE, Wan 2.1 1.3B transformer/VAE and Qwen2.5-7B architectures,
built from their published configs (bench/configs/) with random weights, so nothing is downloaded.

Run on a GPU machine:  python bench/gpu.py [--compile] [--write]
Check the script on CPU:  python bench/gpu.py --tiny   (shrunken configs, a few steps; floors n/a)

For each model: seconds per denoising step and per job (sdxl_image_fast: 1024x1024, 6 images, 15 steps,
CFG; video_fast: 480x832, 17 frames, 4 steps, with and without CFG), peak memory, each optimisation on
and off against plain diffusers defaults measured in the same run, and the floor: the job's FLOPs
(shared/PERF_ANCHORS.md) over this card's bf16 matmul rate, measured here. --write appends the tables to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

CONFIGS = Path(__file__).parent / "configs"
# TFLOP per forward pass (shared/PERF_ANCHORS.md), for the floors.
SDXL_UNET_TFLOP = 6.76  # 1024x1024, batch 1
SDXL_VAE_TFLOP = 10.5  # per 1024x1024 image
WAN_17F_TFLOP = 31.6  # 480x832, 17 frames
QWEN_BYTES_PER_TOKEN = 15.2e9


def config(name: str) -> dict[str, Any]:
    return {k: v for k, v in json.loads((CONFIGS / name).read_text()).items() if not k.startswith("_")}


def shrink(cfg: dict[str, Any], kind: str) -> dict[str, Any]:
    """Small enough for a CPU to run the same code path in seconds."""
    cfg = dict(cfg)
    if kind == "unet":
        cfg.update(block_out_channels=[32, 64, 64], attention_head_dim=[2, 4, 4],
                   transformer_layers_per_block=[1, 1, 1], cross_attention_dim=64, addition_time_embed_dim=8,
                   projection_class_embeddings_input_dim=80, norm_num_groups=8, layers_per_block=1)
    elif kind == "sdxl_vae":
        cfg.update(block_out_channels=[32, 32, 64, 64], norm_num_groups=8, layers_per_block=1)
    elif kind == "wan":
        cfg.update(num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=2, text_dim=64, freq_dim=32)
    elif kind == "wan_vae":
        cfg.update(base_dim=8)
    elif kind == "qwen":
        cfg.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   num_key_value_heads=2, vocab_size=1024)
    return cfg


class Clock:
    def __init__(self, device: str) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def median(self, fn: Callable[[], Any], reps: int, warmup: int = 1) -> float:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(reps):
            self.sync()
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def reset_peak(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_gb(self) -> float | None:
        return torch.cuda.max_memory_allocated() / 2**30 if self.device.startswith("cuda") else None


def matmul_tflops(clock: Clock, dtype: torch.dtype, n: int) -> float:
    a = torch.randn(n, n, device=clock.device, dtype=dtype)
    b = torch.randn(n, n, device=clock.device, dtype=dtype)
    seconds = clock.median(lambda: a @ b, reps=10, warmup=3)
    return 2 * n**3 / seconds / 1e12


def bandwidth_gbs(clock: Clock, mb: int) -> float:
    src = torch.empty(mb * 2**20, dtype=torch.uint8, device=clock.device)
    dst = torch.empty_like(src)
    seconds = clock.median(lambda: dst.copy_(src), reps=10, warmup=3)
    return 2 * src.numel() / seconds / 1e9  # read + write


Row = dict[str, Any]


def bench_sdxl(clock: Clock, dtype: torch.dtype, tiny: bool, compile_: bool, rate: float | None) -> list[Row]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    cfg = config("sdxl_unet.json")
    cfg = shrink(cfg, "unet") if tiny else cfg
    side, images, steps = (32, 6, 2) if tiny else (128, 6, 15)  # latent side: 1024 / 8
    with torch.device(clock.device):
        unet = UNet2DConditionModel.from_config(cfg).to(dtype).eval()
    batch = images * 2  # classifier-free guidance: a conditional and an unconditional pass
    latents = torch.randn(batch, 4, side, side, device=clock.device, dtype=dtype)
    text = torch.randn(batch, 77, cfg["cross_attention_dim"], device=clock.device, dtype=dtype)
    pooled = cfg["projection_class_embeddings_input_dim"] - 6 * cfg["addition_time_embed_dim"]
    added = {"text_embeds": torch.randn(batch, pooled, device=clock.device, dtype=dtype),
             "time_ids": torch.tensor([[side * 8, side * 8, 0, 0, side * 8, side * 8]] * batch, device=clock.device,
                                      dtype=dtype)}
    t = torch.tensor([500], device=clock.device)

    def step() -> None:
        with torch.inference_mode():
            unet(latents, t, text, added_cond_kwargs=added)

    rows: list[Row] = []
    reps = 2 if tiny else 5
    variants: list[tuple[str, Callable[[], None]]] = [
        ("classic attention (no SDPA)", lambda: unet.set_attn_processor(AttnProcessor())),
        ("SDPA (diffusers default: the plain baseline)", lambda: unet.set_attn_processor(AttnProcessor2_0())),
        ("SDPA + channels_last (ourvidz)", lambda: unet.to(memory_format=torch.channels_last)),
    ]
    if compile_:
        variants.append(("SDPA + channels_last + torch.compile (ourvidz --compile)", lambda: setattr(
            unet, "forward", torch.compile(unet.forward, mode="max-autotune-no-cudagraphs"))))
    for name, apply in variants:
        apply()
        clock.reset_peak()
        seconds = clock.median(step, reps=reps, warmup=3 if "compile" in name else 1)
        rows.append({"model": "SDXL UNet", "variant": name, "step_s": seconds, "job_unet_s": seconds * steps,
                     "peak_gb": clock.peak_gb()})
    vcfg = config("sdxl_vae.json")
    vcfg = shrink(vcfg, "sdxl_vae") if tiny else vcfg
    for vae_dtype, slicing in ((torch.float32, False), (dtype, False), (dtype, True)):
        with torch.device(clock.device):
            vae = AutoencoderKL.from_config(vcfg).to(vae_dtype).eval()
        if slicing:
            vae.enable_slicing()
        z = torch.randn(images, 4, side, side, device=clock.device, dtype=vae_dtype)
        clock.reset_peak()

        def decode(vae: Any = vae, z: torch.Tensor = z) -> None:
            with torch.inference_mode():
                vae.decode(z)

        seconds = clock.median(decode, reps=2 if tiny else 3)
        label = ("fp32 (stock SDXL VAE upcasts)" if vae_dtype == torch.float32 else
                 "half (fp16-fix VAE)") + (" + slicing" if slicing else "")
        rows.append({"model": "SDXL VAE x6", "variant": label, "step_s": None, "job_unet_s": seconds,
                     "peak_gb": clock.peak_gb()})
        del vae
    floor = None if tiny or not rate else (SDXL_UNET_TFLOP * batch * steps + SDXL_VAE_TFLOP * images) / rate
    best_unet = min(r["job_unet_s"] for r in rows if r["model"] == "SDXL UNet")
    best_vae = min(r["job_unet_s"] for r in rows if r["model"] == "SDXL VAE x6")
    rows.append({"model": "sdxl_image_fast job", "variant": "best UNet x15 + best VAE", "step_s": None,
                 "job_unet_s": best_unet + best_vae, "peak_gb": None, "floor_s": floor})
    return rows


def bench_wan(clock: Clock, dtype: torch.dtype, tiny: bool, compile_: bool, rate: float | None) -> list[Row]:
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    cfg = config("wan_transformer.json")
    cfg = shrink(cfg, "wan") if tiny else cfg
    frames, height, width, steps = 17, 832, 480, 4
    if tiny:
        height, width = 64, 48
    lat_t, lat_h, lat_w = (frames - 1) // 4 + 1, height // 8, width // 8
    with torch.device(clock.device):
        model = WanTransformer3DModel.from_config(cfg).to(dtype).eval()
    rows: list[Row] = []
    for cfg_passes in (2, 1):
        latents = torch.randn(cfg_passes, 16, lat_t, lat_h, lat_w, device=clock.device, dtype=dtype)
        text = torch.randn(cfg_passes, 512, cfg["text_dim"], device=clock.device, dtype=dtype)
        t = torch.tensor([500] * cfg_passes, device=clock.device)

        def step(latents: torch.Tensor = latents, text: torch.Tensor = text, t: torch.Tensor = t) -> None:
            with torch.inference_mode():
                model(hidden_states=latents, timestep=t, encoder_hidden_states=text)

        clock.reset_peak()
        seconds = clock.median(step, reps=2 if tiny else 5)
        label = ("CFG (stock Wan, guidance 5)" if cfg_passes == 2 else
                 "no CFG (CausVid LoRA, guidance 1: ourvidz default)")
        floor = None if tiny or not rate else WAN_17F_TFLOP * cfg_passes * steps / rate
        rows.append({"model": "Wan 1.3B transformer", "variant": label, "step_s": seconds,
                     "job_unet_s": seconds * steps, "peak_gb": clock.peak_gb(), "floor_s": floor})
    if compile_:
        model.forward = torch.compile(model.forward, mode="max-autotune-no-cudagraphs")
        latents = torch.randn(1, 16, lat_t, lat_h, lat_w, device=clock.device, dtype=dtype)
        text = torch.randn(1, 512, cfg["text_dim"], device=clock.device, dtype=dtype)

        def compiled() -> None:
            with torch.inference_mode():
                model(hidden_states=latents, timestep=torch.tensor([500], device=clock.device),
                      encoder_hidden_states=text)

        seconds = clock.median(compiled, reps=5, warmup=3)
        rows.append({"model": "Wan 1.3B transformer", "variant": "no CFG + torch.compile", "step_s": seconds,
                     "job_unet_s": seconds * steps, "peak_gb": clock.peak_gb()})
    vcfg = config("wan_vae.json")
    vcfg = shrink(vcfg, "wan_vae") if tiny else vcfg
    for tiling in (False, True):
        with torch.device(clock.device):
            vae = AutoencoderKLWan.from_config(vcfg).to(torch.float32).eval()
        if tiling:
            vae.enable_tiling()
        z = torch.randn(1, 16, lat_t, lat_h, lat_w, device=clock.device)
        clock.reset_peak()

        def decode(vae: Any = vae, z: torch.Tensor = z) -> None:
            with torch.inference_mode():
                vae.decode(z)

        seconds = clock.median(decode, reps=2 if tiny else 3)
        rows.append({"model": "Wan VAE decode (fp32)", "variant": "tiling" if tiling else "whole clip",
                     "step_s": None, "job_unet_s": seconds, "peak_gb": clock.peak_gb()})
        del vae
    return rows


def bench_qwen(clock: Clock, dtype: torch.dtype, tiny: bool, bandwidth: float | None) -> list[Row]:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = config("qwen2_5_7b_instruct.json")
    cfg = shrink(cfg, "qwen") if tiny else cfg
    with torch.device(clock.device):
        model = Qwen2ForCausalLM(Qwen2Config(**cfg)).to(dtype).eval()
    new = 16 if tiny else 200
    prompt = torch.randint(0, cfg["vocab_size"], (1, 64), device=clock.device)

    def generate() -> None:
        with torch.inference_mode():
            model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False)

    clock.reset_peak()
    seconds = clock.median(generate, reps=2 if tiny else 3)
    floor = None if tiny or not bandwidth else QWEN_BYTES_PER_TOKEN * new / (bandwidth * 1e9 / 2)
    return [{"model": "Qwen2.5-7B", "variant": f"greedy, {new} new tokens (transformers generate, as ourvidz)",
             "step_s": seconds / new, "job_unet_s": seconds, "peak_gb": clock.peak_gb(), "floor_s": floor}]


def table(rows: list[Row]) -> str:
    def fmt(value: Any, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    lines = ["| model | variant | s / step (token) | s / job | peak GiB | floor s | job / floor |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        floor = r.get("floor_s")
        ratio = r["job_unet_s"] / floor if floor else None
        lines.append(f"| {r['model']} | {r['variant']} | {fmt(r['step_s'], '.4f')} | {fmt(r['job_unet_s'], '.3f')} | "
                     f"{fmt(r['peak_gb'], '.1f')} | {fmt(floor, '.3f')} | {fmt(ratio, '.2f')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="shrunken configs, to check the script on a CPU")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (takes minutes)")
    parser.add_argument("--write", action="store_true", help="append the results to bench/RESULTS.md")
    parser.add_argument("--only", choices=("sdxl", "wan", "qwen"), action="append")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        raise SystemExit("no GPU: run with --tiny to check the script on a CPU (its figures mean nothing)")
    clock = Clock(device)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    half = torch.float32 if device == "cpu" else torch.float16
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (--tiny)"
    rate = matmul_tflops(clock, dtype, 1024 if args.tiny else 8192)
    bandwidth = bandwidth_gbs(clock, 64 if args.tiny else 4096)
    head = (f"## {name}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}\n\n"
            f"Measured here: bf16 matmul {rate:.0f} TFLOP/s, device copy {bandwidth:.0f} GB/s.\n")
    print(head)
    rows: list[Row] = []
    wanted = set(args.only or ("sdxl", "wan", "qwen"))
    if "sdxl" in wanted:
        rows += bench_sdxl(clock, half, args.tiny, args.compile, None if args.tiny else rate)
    if "wan" in wanted:
        rows += bench_wan(clock, dtype, args.tiny, args.compile, None if args.tiny else rate)
    if "qwen" in wanted:
        rows += bench_qwen(clock, dtype, args.tiny, None if args.tiny else bandwidth)
    text = table(rows)
    print(text)
    if args.write and not args.tiny:
        with open(Path(__file__).parent / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write("\n" + head + "\n" + text + "\n")


if __name__ == "__main__":
    main()
