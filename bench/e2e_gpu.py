"""End-to-end GPU benchmark: all ten job types through `ourvidz queue run`, on the real-size random-weight
models of bench/full_models.py (SDXL, Wan 2.1 1.3B with UMT5-XXL and a fused CausVid-shaped LoRA,
Qwen2.5-7B), as a user's queue runs them.

Run on a GPU machine:   python bench/e2e_gpu.py --models DIR [--write]     (builds DIR first if empty)
Check the script on CPU: python bench/e2e_gpu.py --models DIR --tiny       (reduced widths, 1 step)

Per job type, a fresh process runs a cold job (the model loads) and a warm one (it is resident): load,
generate and write seconds and peak GiB from the ledger; the job's FLOP floor (shared/PERF_ANCHORS.md)
over this card's bf16 matmul rate measured in the same run, and generate / floor. Then: the
out-of-memory fallback forced once (OURVIDZ_FAULT_OOM), Wan's encoder kept in RAM under a 24 GB budget,
--compile on vs off, and the queue's jobs/hour with output writing overlapped vs serial
(OURVIDZ_OVERLAP_WRITES=0). --write appends the tables to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from full_models import build  # noqa: E402

from ourvidz_cli.catalog.load import load_catalog  # noqa: E402
from ourvidz_cli.catalog.resolve import resolve_job  # noqa: E402
from ourvidz_cli.ledger import Ledger  # noqa: E402

TYPES = ["sdxl_image_fast", "sdxl_image_high", "image_fast", "image_high", "video_fast", "video_high",
         "image7b_fast_enhanced", "image7b_high_enhanced", "video7b_fast_enhanced", "video7b_high_enhanced"]
# shared/PERF_ANCHORS.md: TFLOP per forward.
SDXL_UNET_TFLOP_1MP, SDXL_VAE_TFLOP_1MP = 6.76, 10.5
QWEN_BYTES_PER_TOKEN = 15.2e9
PROMPT = "a lighthouse at dawn, waves breaking on the rocks, cinematic light"


def wan_tflop(tokens: int) -> float:
    """Wan 1.3B per forward, a*t + b*t^2 through the anchors' 1,560- and 7,800-token figures."""
    b = (31.6 / 7800 - 4.7 / 1560) / (7800 - 1560)
    return (4.7 / 1560 - 1560 * b) * tokens + b * tokens ** 2


def floor_tflop(config: Any) -> float:
    """The job's matrix work: denoiser forwards (x2 with classifier-free guidance) and SDXL's VAE decodes.
    Wan's VAE and the text encoders are left out (no anchor), so the floor is a lower bound."""
    cfg = 2 if config.guidance > 1.0 else 1
    if config.model.kind == "sdxl":
        mp = config.width * config.height / 2**20
        return config.count * (config.steps * cfg * SDXL_UNET_TFLOP_1MP * mp + SDXL_VAE_TFLOP_1MP * mp)
    latent_frames = ((config.frames or 1) - 1) // 4 + 1
    tokens = latent_frames * (config.height // 16) * (config.width // 16)
    return config.count * config.steps * cfg * wan_tflop(tokens)


def card_rates(device: str) -> tuple[float, float]:
    """Measured here: dense bf16 matmul TFLOP/s and device memory read GB/s (the Qwen decode floor)."""
    if not device.startswith("cuda"):
        return float("nan"), float("nan")
    n, reps = 8192, 20
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    buf = torch.empty(2**30, device=device, dtype=torch.uint8)
    rates = []
    for work, seconds_of in ((lambda: a @ b, 2 * n**3 / 1e12), (lambda: buf.clone(), 2 * 2**30 / 1e9)):
        work()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(reps):
            work()
        torch.cuda.synchronize()
        rates.append(seconds_of * reps / (time.perf_counter() - t0))
    return rates[0], rates[1]


def run_queue(home: Path, catalog: Path, args: list[str], env: dict[str, str] | None = None) -> float:
    full_env = {**os.environ, "OURVIDZ_HOME": str(home), "OURVIDZ_CONFIG": str(catalog), **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json", *args], env=full_env,
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"queue run failed in {home}:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def queued(home: Path, catalog: Path, job_type: str, n: int, overrides: dict[str, Any]) -> Ledger:
    cat = load_catalog(catalog)
    ledger = Ledger(home / "ledger.db")
    ledger.queue.add([resolve_job(cat, job_type, f"{PROMPT}, take {i}", {"seed": i, **overrides})
                      for i in range(n)])
    return ledger


def measures(job: dict[str, Any]) -> dict[str, Any]:
    spent = sum(job.get(k) or 0.0 for k in ("load_s", "generate_s", "enhance_s"))
    return {"status": job["status"], "duration_s": job.get("duration_s") or spent,
            "load_s": job.get("model_load_s") or 0.0, "enhance_s": job.get("enhance_s"),
            "generate_s": job.get("generate_s"), "write_s": max(0.0, (job.get("duration_s") or spent) - spent),
            "peak_gib": (job.get("peak_mem_mb") or 0.0) / 1024, "fallback": job.get("fallback")}


def per_type(base: Path, catalog: Path, overrides: dict[str, Any], rates: tuple[float, float],
             types: list[str]) -> list[dict]:
    rows = []
    for job_type in types:
        home = base / job_type
        ledger = queued(home, catalog, job_type, 2, overrides)
        run_queue(home, catalog, [])
        cold, warm = sorted(ledger.jobs.list(), key=lambda j: j["id"])
        config = warm["config"]
        floor_s = floor_tflop(config) / rates[0]
        if config.enhancer is not None:
            floor_s += config.enhancer.max_new_tokens * QWEN_BYTES_PER_TOKEN / 1e9 / rates[1]
        rows.append({"type": job_type, "cold": measures(cold), "warm": measures(warm), "floor_s": floor_s})
        print(f"  {job_type}: cold {cold['duration_s']:.2f} s, warm {warm['duration_s']:.2f} s", file=sys.stderr)
    return rows


def extras(base: Path, catalog: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Out of memory once, under a budget that keeps Wan's encoder in RAM: the retry must leave it there.
    home = base / "oom"
    ledger = queued(home, catalog, "video_fast", 1, overrides)
    run_queue(home, catalog, ["--vram-budget", "8GB"], {"OURVIDZ_FAULT_OOM": "1"})
    out["oom"] = measures(ledger.jobs.list()[0])
    # 24 GB holds Wan in bf16 (about 15 GB with its encoder); 8 GB does not, so the encoder stays in RAM.
    for budget in ("24GB", "8GB"):
        home = base / f"budget-{budget}"
        ledger = queued(home, catalog, "video_fast", 1, overrides)
        run_queue(home, catalog, ["--vram-budget", budget])
        job = ledger.jobs.list()[0]
        log = (home / "logs" / f"{job['id']}.log").read_text()
        out[f"budget-{budget}"] = {**measures(job), "encoder_in_ram": "text_encoder_on_cpu" in log}
    for flag in ("", "--compile"):
        home = base / f"compile{flag}"
        ledger = queued(home, catalog, "sdxl_image_fast", 3, overrides)
        run_queue(home, catalog, [flag] if flag else [])
        jobs = sorted(ledger.jobs.list(), key=lambda j: j["id"])
        out[f"compile{flag}"] = {"first_s": jobs[0]["duration_s"], "warm_generate_s": jobs[-1]["generate_s"]}
    for overlap in ("1", "0"):
        home = base / f"overlap-{overlap}"
        ledger = queued(home, catalog, "sdxl_image_fast", 8, overrides)
        run_queue(home, catalog, [], {"OURVIDZ_OVERLAP_WRITES": overlap})
        jobs = sorted(ledger.jobs.list(), key=lambda j: j["id"])[1:]  # the model is warm from job 2 on
        span = max(j["finished_at"] for j in jobs) - min(j["started_at"] for j in jobs)
        out[f"overlap-{overlap}"] = {"jobs_per_hour": 3600 * len(jobs) / span}
    return out


def report(rows: list[dict], extra: dict[str, Any], rates: tuple[float, float], device: str) -> str:
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU (--tiny: code path only)"
    lines = [f"## e2e_gpu: ten job types via `ourvidz queue run`, real-size random weights ({name})", "",
             f"bf16 matmul {rates[0]:.0f} TFLOP/s, memory copy {rates[1]:.0f} GB/s (measured in this run)", "",
             "| job type | cold load s | cold total s | warm generate s | warm write s | warm peak GiB "
             "| floor s | warm generate / floor |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, w = r["cold"], r["warm"]
        lines.append(f"| {r['type']} | {c['load_s']:.2f} | {c['duration_s']:.2f} | {w['generate_s'] or 0:.2f} | "
                     f"{w['write_s']:.3f} | {w['peak_gib']:.1f} | {r['floor_s']:.2f} | "
                     f"{(w['generate_s'] or 0) / r['floor_s']:.2f} |")
    if not extra:
        return "\n".join(lines + [""])
    o = extra["oom"]
    lines += ["", f"- forced out-of-memory on video_fast, 8GB budget: {o['status']}, "
                  f"'{o['fallback']}', generate {o['generate_s'] or 0:.2f} s, peak {o['peak_gib']:.1f} GiB"]
    for budget in ("24GB", "8GB"):
        e = extra[f"budget-{budget}"]
        lines.append(f"- video_fast under a {budget} budget: encoder kept in RAM: {e['encoder_in_ram']}, "
                     f"{e['status']}, generate {e['generate_s'] or 0:.2f} s, peak {e['peak_gib']:.1f} GiB")
    lines += [
              f"- sdxl_image_fast --compile: first job {extra['compile--compile']['first_s']:.1f} s (compiling), "
              f"warm generate {extra['compile--compile']['warm_generate_s']:.2f} s vs "
              f"{extra['compile']['warm_generate_s']:.2f} s eager: "
              f"{extra['compile']['warm_generate_s'] / extra['compile--compile']['warm_generate_s']:.2f}x",
              f"- 7 warm sdxl_image_fast jobs: {extra['overlap-1']['jobs_per_hour']:.0f} jobs/h with writes "
              f"overlapped vs {extra['overlap-0']['jobs_per_hour']:.0f} serial: "
              f"{extra['overlap-1']['jobs_per_hour'] / extra['overlap-0']['jobs_per_hour']:.3f}x", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, required=True, help="bench/full_models.py's output folder")
    parser.add_argument("--tiny", action="store_true", help="reduced widths and 1 step: the script on a CPU")
    parser.add_argument("--write", action="store_true", help="append the tables to bench/RESULTS.md")
    # A lent GPU comes with minutes, not hours: a session can run part of it per call.
    parser.add_argument("--types", default=",".join(TYPES), help="comma-separated job types (default: all ten)")
    parser.add_argument("--no-extras", action="store_true", help="skip OOM, budgets, compile and overlap runs")
    parser.add_argument("--build-only", action="store_true", help="build the models and stop")
    args = parser.parse_args()
    types = [t for t in args.types.split(",") if t]
    if unknown := sorted(set(types) - set(TYPES)):
        parser.error(f"unknown job types: {', '.join(unknown)}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    catalog = args.models / "models.toml"
    if not catalog.is_file():
        print(f"building the models in {args.models} ...", file=sys.stderr)
        catalog = build(args.models, device, args.tiny)
    if args.build_only:
        print(catalog)
        return
    overrides = {"steps": 1} if args.tiny else {}
    rates = card_rates(device)
    with tempfile.TemporaryDirectory(prefix="ourvidz-e2e-") as tmp:
        rows = per_type(Path(tmp), catalog, overrides, rates, types)
        extra = {} if args.no_extras else extras(Path(tmp), catalog, overrides)
    text = report(rows, extra, rates, device)
    print(text)
    print(json.dumps({"rows": rows, "extras": extra}), file=sys.stderr)
    if args.write:
        with open(Path(__file__).parent / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
