"""What ourvidz costs over a bare diffusers script, and how many model loads its scheduler saves.

Run: python bench/overhead.py [--jobs N] [--reps R]   (CPU, smoke models; about 6 minutes)

1. The same N generations (same tiny models, sizes, steps and seeds) done by `ourvidz queue run` in one
   process and by a bare diffusers script that loads the pipeline once and writes each output; all
   are timed as whole processes, in rotating order, R times; the table shows medians, the ratio and
   the overhead per job in ms. `queue run` is timed twice: writing each job's outputs on the writer
   thread while the next renders (the default), and serially (OURVIDZ_OVERLAP_WRITES=0).
2. Model loads for a mixed 30-job queue over all ten job types: our scheduler against FIFO, with the
   default budget and with a budget that holds one model at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ourvidz_cli.catalog.load import load_catalog
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.engine.models.model_store import estimate_bytes
from ourvidz_cli.engine.models.smoke import init_smoke
from ourvidz_cli.ledger import Ledger

BARE = r'''
import sys, json
import numpy as np, torch, imageio_ffmpeg
from pathlib import Path
from diffusers import StableDiffusionXLPipeline, WanPipeline, AutoencoderKLWan
spec = json.loads(sys.argv[1])
out = Path(spec["out"]); out.mkdir(parents=True, exist_ok=True)
if spec["kind"] == "sdxl":
    pipe = StableDiffusionXLPipeline.from_pretrained(spec["model"])
else:
    vae = AutoencoderKLWan.from_pretrained(spec["model"], subfolder="vae", torch_dtype=torch.float32)
    pipe = WanPipeline.from_pretrained(spec["model"], vae=vae)
pipe.set_progress_bar_config(disable=True)
for i, job in enumerate(spec["jobs"]):
    g = torch.Generator("cpu").manual_seed(job["seed"])
    if spec["kind"] == "sdxl":
        images = pipe(prompt=job["prompt"], negative_prompt=job["negative"], num_inference_steps=job["steps"],
                      width=job["width"], height=job["height"], guidance_scale=job["guidance"],
                      num_images_per_prompt=job["count"], generator=g).images
        for n, im in enumerate(images):
            im.save(out / f"{i}_{n}.png")
    else:
        frames = pipe(prompt=job["prompt"], negative_prompt=job["negative"], num_inference_steps=job["steps"],
                      width=job["width"], height=job["height"], num_frames=job["frames"],
                      guidance_scale=job["guidance"], generator=g, output_type="np").frames[0]
        clip = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
        w = imageio_ffmpeg.write_frames(str(out / f"{i}.mp4"), (clip.shape[2], clip.shape[1]), fps=16,
                                        codec="libx264", pix_fmt_out="yuv420p", macro_block_size=2)
        w.send(None)
        for f in clip:
            w.send(np.ascontiguousarray(f))
        w.close()
'''

TYPES = ["sdxl_image_fast", "video_fast", "image7b_fast_enhanced", "image_high", "sdxl_image_high", "image_fast",
         "video7b_high_enhanced", "video_high", "image7b_high_enhanced", "video7b_fast_enhanced"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{'bare script' if cmd[1] == '-c' else 'ourvidz'} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0, proc.stdout


def overhead(smoke: Path, base_home: Path, job_type: str, n: int, reps: int, steps: int) -> dict:
    catalog = load_catalog(smoke / "models.toml")
    specs = [resolve_job(catalog, job_type, f"a lighthouse at dawn, take {i}", {"seed": i, "steps": steps})
             for i in range(n)]
    cfg = specs[0].config
    bare_spec = {"kind": cfg.model.kind, "model": cfg.model.source, "jobs": [
        {"prompt": s.prompt, "negative": s.config.negative, "steps": s.config.steps, "width": s.config.width,
         "height": s.config.height, "guidance": s.config.guidance, "count": s.config.count,
         "frames": s.config.frames, "seed": s.config.seed} for s in specs]}
    times: dict[str, list[float]] = {"bare": [], "ours": [], "serial": []}
    for rep in range(reps):
        home = base_home / f"{job_type}-{rep}"
        home.mkdir()
        (home / "smoke").symlink_to(smoke, target_is_directory=True)
        serial_home = base_home / f"{job_type}-{rep}-serial"
        shutil.copytree(home, serial_home, symlinks=True)
        Ledger(home / "ledger.db").queue.add(specs)
        Ledger(serial_home / "ledger.db").queue.add(specs)
        env = {**os.environ, "OURVIDZ_HOME": str(home)}
        runs = {"bare": ([sys.executable, "-c", BARE, json.dumps({**bare_spec, "out": str(home / "bare")})], env),
                "ours": ([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json"], env),
                "serial": ([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json"],
                           {**env, "OURVIDZ_HOME": str(serial_home), "OURVIDZ_OVERLAP_WRITES": "0"})}
        names = list(runs)
        # Rotate which goes first: the machine warms its caches on whichever runs first.
        for name in names[rep % 3:] + names[:rep % 3]:
            seconds, out = timed(*runs[name])
            if name != "bare":
                assert json.loads(out)["completed"] == n
            times[name].append(seconds)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"type": job_type, "jobs": n, "bare_s": med["bare"], "ours_s": med["ours"], "serial_s": med["serial"],
            "ratio": med["ours"] / med["bare"], "serial_ratio": med["serial"] / med["bare"],
            "ms_per_job": (med["ours"] - med["bare"]) / n * 1000,
            "serial_ms_per_job": (med["serial"] - med["bare"]) / n * 1000}


def load_counts(smoke: Path, base_home: Path) -> list[dict]:
    catalog = load_catalog(smoke / "models.toml")
    specs = []
    for i in range(30):
        t = TYPES[i % 10]
        over = {"seed": i, "steps": 1, **({"count": 1} if t.startswith("sdxl") else {})}
        specs.append(resolve_job(catalog, t, f"shot {i}: a harbor at dusk", over))
    one_model = str(max(int(estimate_bytes(m.as_ref()) or 0) for m in catalog.models.values()) + 1)
    rows = []
    for budget_name, budget in (("default (RAM)", None), ("one model at a time", one_model)):
        for order in ("smart", "fifo"):
            home = base_home / f"mixed-{order}-{budget_name[:3]}"
            home.mkdir()
            (home / "smoke").symlink_to(smoke, target_is_directory=True)
            Ledger(home / "ledger.db").queue.add(specs)
            cmd = [sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json", "--order", order]
            if budget:
                cmd += ["--vram-budget", budget]
            seconds, out = timed(cmd, {**os.environ, "OURVIDZ_HOME": str(home)})
            summary = json.loads(out)
            rows.append({"budget": budget_name, "order": order, "completed": summary["completed"],
                         "model_loads": summary["model_loads"], "evictions": summary["evictions"],
                         "wall_s": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        init_smoke(base)
        smoke = base / "smoke"
        print(f"# ourvidz overhead (CPU, smoke models, {args.jobs} jobs x {args.reps} reps, medians)\n")
        print("| workload | bare script | queue run, writes serial | ratio | ms/job over bare "
              "| queue run, writes overlapped | ratio | ms/job over bare |")
        print("|---|---|---|---|---|---|---|---|")
        for job_type, steps in (("sdxl_image_fast", 15), ("video_fast", 4)):
            r = overhead(smoke, base, job_type, args.jobs, args.reps, steps)
            print(f"| {r['jobs']} x {r['type']} | {r['bare_s']:.2f} s | {r['serial_s']:.2f} s | "
                  f"{r['serial_ratio']:.3f} | {r['serial_ms_per_job']:+.0f} | {r['ours_s']:.2f} s | "
                  f"{r['ratio']:.3f} | {r['ms_per_job']:+.0f} |", flush=True)
        print("\n# model loads, mixed queue of 30 jobs over all ten types (3 distinct models)\n")
        print("| budget | order | completed | model loads | evictions | wall |")
        print("|---|---|---|---|---|---|")
        for r in load_counts(smoke, base):
            print(f"| {r['budget']} | {r['order']} | {r['completed']} | {r['model_loads']} | {r['evictions']} | "
                  f"{r['wall_s']:.1f} s |", flush=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
