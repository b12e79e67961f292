"""Reference frames (Wan 2.1 VACE): what `ourvidz queue run` costs over a bare diffusers script for
first+last-frame jobs, and what a text job followed by a first-frame job loads.

Run: python bench/vace.py [--jobs N] [--reps R] [--steps S]   (CPU, smoke models)

1. N first+last-frame clips (17 frames, the smoke Wan and VACE) run by `ourvidz queue run` and by a bare
   script (WanPipeline loaded once, VACE's transformer loaded once, WanVACEPipeline built from them, each
   clip written as MP4), both timed as whole processes in alternating order, R times; medians, the ratio
   and the overhead per job in ms.
2. A text-to-video job then a first-frame job in one `queue run`: the model loads and the bytes the
   engine counted for each (VACE's transformer alone, beside the Wan model it shares UMT5 and the VAE with).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.img2img import alternate, ourvidz, smoke_home  # noqa: E402
from ourvidz_cli.engine.models.smoke import init_smoke  # noqa: E402

BARE = r'''
import sys, json, torch
from pathlib import Path
from PIL import Image
from diffusers import WanPipeline, WanVACEPipeline, WanVACETransformer3DModel
import imageio_ffmpeg, numpy as np
spec = json.loads(sys.argv[1])
out = Path(spec["out"]); out.mkdir(parents=True, exist_ok=True)
wan = WanPipeline.from_pretrained(spec["wan"])
vace = WanVACETransformer3DModel.from_pretrained(spec["vace"], subfolder="transformer")
pipe = WanVACEPipeline(tokenizer=wan.tokenizer, text_encoder=wan.text_encoder, vae=wan.vae, scheduler=wan.scheduler,
                       transformer=vace)
pipe.set_progress_bar_config(disable=True)
w, h, n = 48, 80, 17
first, last = Image.open(spec["first"]).convert("RGB"), Image.open(spec["last"]).convert("RGB")
video = [first] + [Image.new("RGB", (w, h), (128, 128, 128))] * (n - 2) + [last]
mask = [Image.new("L", (w, h), 0)] + [Image.new("L", (w, h), 255)] * (n - 2) + [Image.new("L", (w, h), 0)]
for i in range(spec["jobs"]):
    g = torch.Generator("cpu").manual_seed(i)
    frames = pipe(prompt=f"the tide, take {i}", video=video, mask=mask, height=h, width=w, num_frames=n,
                  num_inference_steps=spec["steps"], guidance_scale=5.0, generator=g, output_type="np").frames[0]
    writer = imageio_ffmpeg.write_frames(str(out / f"{i}.mp4"), (w, h), fps=16, codec="libx264", quality=None,
                                         output_params=["-crf", "18"], ffmpeg_log_level="error")
    writer.send(None)
    for frame in (np.clip(frames, 0, 1) * 255).round().astype(np.uint8):
        writer.send(np.ascontiguousarray(frame))
    writer.close()
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ourvidz-vace-"))
    init_smoke(root)
    rng = np.random.default_rng(0)
    first, last = root / "first.png", root / "last.png"
    for path in (first, last):
        Image.fromarray((rng.random((80, 48, 3)) * 255).astype(np.uint8)).save(path)
    times: dict[str, list[float]] = {"bare": [], "ours": []}
    for rep in range(args.reps):
        home = smoke_home(root, f"rep{rep}")
        for i in range(args.jobs):
            ourvidz(home, "queue", "add", "video_fast", f"the tide, take {i}", "--seed", str(i), "--steps",
                    str(args.steps), "--guidance", "5", "--negative", "", "--first-frame", str(first),
                    "--last-frame", str(last))
        spec = {"wan": str(root / "smoke" / "models" / "wan"), "vace": str(root / "smoke" / "models" / "wan_vace"),
                "first": str(first), "last": str(last), "jobs": args.jobs, "steps": args.steps,
                "out": str(home / "bare")}
        alternate(rep, home, [sys.executable, "-c", BARE, json.dumps(spec)], times)
    b, o = statistics.median(times["bare"]), statistics.median(times["ours"])
    print(f"{args.jobs} x first+last-frame clip (17 frames, {args.steps} steps): bare {b:.2f} s, ourvidz {o:.2f} s, "
          f"ours/bare {o / b:.3f}, {(o - b) / args.jobs * 1000:+.0f} ms/job")
    home = smoke_home(root, "loads")
    ourvidz(home, "queue", "add", "video_fast", "the tide", "--seed", "1", "--steps", "1")
    ourvidz(home, "queue", "add", "video_fast", "the tide", "--seed", "1", "--steps", "1", "--first-frame", str(first))
    plan = json.loads(ourvidz(home, "queue", "plan", "--json", "--device", "cpu", "--vram-budget", "8GB"))
    ran = json.loads(ourvidz(home, "queue", "run", "--json"))
    print(f"text job then first-frame job: {ran['model_loads']} model loads (plan: "
          f"{[s['loads'] for s in plan['steps']]})")
    from ourvidz_cli.app import App, Settings
    from ourvidz_cli.engine.models.model_store import estimate_bytes

    cat = App(Settings(home=home, smoke=True)).catalog
    wan, vace = (estimate_bytes(cat.models[n].as_ref(), "float32") or 0 for n in ("wan", "wan_vace"))
    print(f"  bytes counted: wan {wan:,}, wan_vace (transformer only) {vace:,}; VACE adds {vace / wan:.2f}x of "
          "the loaded Wan")


if __name__ == "__main__":
    main()
