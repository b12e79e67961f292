"""Image-to-image: what `ourvidz queue run` costs over a bare diffusers script on the same inputs, and
the time a job takes against its strength (diffusers runs int(steps x strength) of the steps).

Run: python bench/img2img.py [--jobs N] [--reps R] [--steps S]   (CPU, smoke models)

1. N image-to-image jobs (one input picture, strength 0.5, the smoke SDXL) run by `ourvidz queue run` and
   by a bare script (StableDiffusionXLPipeline loaded once, AutoPipelineForImage2Image.from_pipe, each
   output written), both timed as whole processes in alternating order, R times; medians, the ratio and
   the overhead per job in ms.
2. The generate seconds `queue run` records per job for strengths 0.25, 0.5, 0.75 and 1.0 (medians of N
   jobs each), against strength 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ourvidz_cli.engine.models.smoke import init_smoke  # noqa: E402

BARE = r'''
import sys, json, torch
from pathlib import Path
from PIL import Image
from diffusers import AutoPipelineForImage2Image, StableDiffusionXLPipeline
spec = json.loads(sys.argv[1])
out = Path(spec["out"]); out.mkdir(parents=True, exist_ok=True)
pipe = StableDiffusionXLPipeline.from_pretrained(spec["model"])
pipe.set_progress_bar_config(disable=True)
run = AutoPipelineForImage2Image.from_pipe(pipe)
image = Image.open(spec["image"]).convert("RGB")
for i in range(spec["jobs"]):
    g = torch.Generator("cpu").manual_seed(i)
    run(prompt=f"a lighthouse, take {i}", image=image, strength=spec["strength"], num_inference_steps=spec["steps"],
        guidance_scale=5.0, generator=g).images[0].save(out / f"{i}.png")
'''


def ourvidz(home: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "--smoke", *args], capture_output=True, text=True,
                          env={**os.environ, "OURVIDZ_HOME": str(home)})
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return proc.stdout


def queue(home: Path, image: Path, n: int, steps: int, strength: float) -> None:
    for i in range(n):
        ourvidz(home, "queue", "add", "sdxl_image_fast", f"a lighthouse, take {i}", "--seed", str(i), "--steps",
                str(steps), "--count", "1", "--guidance", "5", "--negative", "", "--image", str(image),
                "--strength", str(strength))


def smoke_home(root: Path, name: str) -> Path:
    """A data home under `root` that uses the smoke models built there once."""
    home = root / name
    home.mkdir()
    (home / "smoke").symlink_to(root / "smoke", target_is_directory=True)
    return home


def alternate(rep: int, home: Path, bare: list[str], times: dict[str, list[float]]) -> None:
    """The bare script and `queue run` timed as whole processes, their order swapped every rep."""
    runs = [("bare", bare), ("ours", [sys.executable, "-m", "ourvidz_cli", "--smoke", "queue", "run", "--json"])]
    for name, cmd in runs[rep % 2:] + runs[:rep % 2]:
        times[name].append(timed(cmd, home))


def timed(cmd: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OURVIDZ_HOME": str(home)})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ourvidz-img2img-"))
    init_smoke(root)
    image = root / "in.png"
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (64, 1)), np.tile(ramp[:, None], (1, 64)),
                              np.full((64, 64), 90, np.uint8)], axis=2)).save(image)
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for rep in range(args.reps):
        home = smoke_home(root, f"rep{rep}")
        queue(home, image, args.jobs, args.steps, 0.5)
        spec = {"model": str(root / "smoke" / "models" / "sdxl"), "image": str(image), "jobs": args.jobs,
                "steps": args.steps, "strength": 0.5, "out": str(home / "bare")}
        alternate(rep, home, [sys.executable, "-c", BARE, json.dumps(spec)], times)
    b, o = statistics.median(times["bare"]), statistics.median(times["ours"])
    print(f"{args.jobs} x image-to-image (strength 0.5, {args.steps} steps): bare {b:.2f} s, ourvidz {o:.2f} s, "
          f"ours/bare {o / b:.3f}, {(o - b) / args.jobs * 1000:+.0f} ms/job")
    seconds = {}
    for strength in (0.25, 0.5, 0.75, 1.0):
        home = smoke_home(root, f"s{strength}")
        queue(home, image, args.jobs, args.steps, strength)
        ran = json.loads(ourvidz(home, "queue", "run", "--json"))
        ids = [j["job_id"] for j in ran["jobs"]]
        shown = [json.loads(ourvidz(home, "jobs", "show", str(i), "--json"))["generate_s"] for i in ids]
        seconds[strength] = statistics.median(shown)
    for strength, s in seconds.items():
        print(f"  strength {strength:4}: {int(args.steps * strength):2d} steps run, generate {s * 1000:6.1f} ms, "
              f"{s / seconds[1.0]:.2f}x strength 1.0")


if __name__ == "__main__":
    main()
