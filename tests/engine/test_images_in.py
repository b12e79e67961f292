"""Images in (issue 26, the SDXL part): image-to-image and inpainting through `ourvidz generate`, wired
as diffusers' own pipelines are (the same tiny components, inputs and seed give the same pixels), on the
model already loaded (one load for text, image and mask jobs), with the input kept in the data home."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, jobs, spawn


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    paths = {"image": tmp_path / "in.png", "mask": tmp_path / "mask.png"}
    ramp = np.linspace(0, 255, 64, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (64, 1)), np.tile(ramp[:, None], (1, 64)),
                              np.full((64, 64), 90, np.uint8)], axis=2)).save(paths["image"])
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[16:48, 16:48] = 255
    Image.fromarray(mask).save(paths["mask"])
    return paths


def _generate(cli: Callable[..., Result], *args: str) -> np.ndarray:
    steps = [] if "--steps" in args else ["--steps", "4"]
    res = cli("--smoke", "generate", "sdxl_image_fast", "a lighthouse", "--seed", "3", *steps, "--count",
              "1", "--negative", "", "--no-worker", "--json", *args)
    assert res.code == 0, res.err
    return np.asarray(Image.open(res.json()["outputs"][0]).convert("RGB")).astype(np.int16)


def _diffusers(smoke_root: Path, image: Path, strength: float, mask: Path | None = None) -> np.ndarray:
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    extra = {"image": Image.open(image).convert("RGB"), "strength": strength}
    if mask is None:
        run = AutoPipelineForImage2Image.from_pipe(pipe)
    else:
        run = AutoPipelineForInpainting.from_pipe(pipe)
        extra |= {"mask_image": Image.open(mask).convert("L"), "width": 64, "height": 64}
    out = run(prompt="a lighthouse", num_inference_steps=4, guidance_scale=5.0, num_images_per_prompt=1,
              generator=torch.Generator("cpu").manual_seed(3), output_type="pil", **extra).images[0]
    return np.asarray(out.convert("RGB")).astype(np.int16)


def test_image_to_image_and_inpainting_give_diffusers_own_pixels(cli: Callable[..., Result], smoke_root: Path,
                                                                 pictures: dict[str, Path]) -> None:
    ours = _generate(cli, "--image", str(pictures["image"]), "--strength", "0.5", "--guidance", "5")
    assert np.array_equal(ours, _diffusers(smoke_root, pictures["image"], 0.5))
    ours = _generate(cli, "--image", str(pictures["image"]), "--mask", str(pictures["mask"]), "--strength", "0.75",
                     "--guidance", "5")
    assert np.array_equal(ours, _diffusers(smoke_root, pictures["image"], 0.75, pictures["mask"]))


def test_strength_and_the_mask_do_what_they_say(cli: Callable[..., Result], pictures: dict[str, Path]) -> None:
    """With random weights the tiny VAE alone changes a picture a lot, so distances are taken from the
    input's own round trip through it (one step at the lowest strength), not from the file."""
    image = str(pictures["image"])
    trip = _generate(cli, "--image", image, "--strength", "0.05", "--steps", "20")
    near = _generate(cli, "--image", image, "--strength", "0.3", "--steps", "20")
    far = _generate(cli, "--image", image, "--strength", "1.0", "--steps", "20")
    assert np.abs(near - trip).mean() < np.abs(far - trip).mean()
    painted = _generate(cli, "--image", image, "--mask", str(pictures["mask"]), "--strength", "1.0", "--steps", "20")
    inside = np.zeros((64, 64), dtype=bool)
    inside[16:48, 16:48] = True
    change = np.abs(painted - trip).mean(axis=2)
    assert change[~inside].mean() < change[inside].mean()


def test_text_image_and_mask_jobs_share_one_load_and_rerun_needs_no_original(
        cli: Callable[..., Result], home: Path, pictures: dict[str, Path]) -> None:
    base = ["sdxl_image_fast", "a lighthouse", "--seed", "5", "--steps", "2", "--count", "1"]
    assert cli("--smoke", "queue", "add", *base).code == 0
    assert cli("--smoke", "queue", "add", *base, "--image", str(pictures["image"])).code == 0
    assert cli("--smoke", "queue", "add", *base, "--image", str(pictures["image"]), "--mask",
               str(pictures["mask"])).code == 0
    proc = spawn(home, "--smoke", "queue", "run", "--json")  # a process of its own: nothing loaded before
    out, err = proc.communicate(timeout=300)
    ran = Result(proc.returncode, out, err)
    assert ran.code == 0 and ran.json()["completed"] == 3 and ran.json()["model_loads"] == 1, err
    stored = json.loads(jobs(home)[1]["config"])["inputs"]
    assert stored["image"].startswith("inputs/") and (home / stored["image"]).read_bytes() == \
        pictures["image"].read_bytes()
    first = np.asarray(Image.open(ran.json()["jobs"][2]["outputs"][0]))
    pictures["image"].unlink()  # the original is gone; the data home's copy remains
    again = cli("--smoke", "rerun", "3", "--no-worker", "--json")
    assert again.code == 0, again.err
    assert np.array_equal(np.asarray(Image.open(again.json()["outputs"][0])), first)
    shown = cli("jobs", "show", "3", "--json").json()
    assert shown["config"]["inputs"]["mask"].startswith("inputs/")
    from ourvidz_cli.library.a1111 import parse_parameters

    params = parse_parameters(Image.open(again.json()["outputs"][0]).text["parameters"])["params"]
    assert params["Denoising strength"] == "0.75" and params["Mask blur"] == "0"


def test_a_bundle_carries_the_input_and_reruns_without_it(cli: Callable[..., Result], home: Path, tmp_path: Path,
                                                           pictures: dict[str, Path]) -> None:
    import shutil

    made = cli("--smoke", "generate", "sdxl_image_fast", "a pier", "--seed", "2", "--steps", "2", "--count", "1",
               "--image", str(pictures["image"]), "--mask", str(pictures["mask"]), "--no-worker", "--json")
    assert made.code == 0, made.err
    asset = cli("assets", "list", "--json").json()[0]["id"]
    shown = cli("assets", "show", str(asset), "--json").json()["input"]
    assert shown["image"].startswith(str(home / "inputs")) and shown["mask"] and shown["strength"] == 0.75
    assert cli("assets", "bundle", str(asset), "--to", str(tmp_path / "b.zip")).code == 0
    from ourvidz_cli.ledger import Ledger
    from ourvidz_cli.library.gallery import build

    page = Path(build(Ledger(home / "ledger.db"), home, tmp_path / "gallery")["path"]).read_text()
    assert 'class="inputs"' in page and "strength 0.75" in page and 'alt="mask"' in page
    shutil.rmtree(home / "inputs")  # another machine, say: only the bundle has the pictures
    again = cli("--smoke", "rerun", "--bundle", str(tmp_path / "b.zip"), "--no-worker", "--json")
    assert again.code == 0, again.err
    assert again.json()["match"] == "exact" and len(list((home / "inputs").iterdir())) == 2


def test_no_diffusers_progress_bar_in_the_output(cli: Callable[..., Result], pictures: dict[str, Path]) -> None:
    """A pipeline made by from_pipe did not carry over the disabled progress bar: tqdm's own bar was
    printed among ours."""
    res = cli("--smoke", "generate", "sdxl_image_fast", "a pier", "--seed", "1", "--steps", "2", "--count", "1",
              "--image", str(pictures["image"]), "--no-worker")
    assert res.code == 0 and "it/s]" not in res.err, res.err


def test_a_job_file_names_its_pictures_relative_to_itself(cli: Callable[..., Result], home: Path,
                                                           pictures: dict[str, Path]) -> None:
    jobs_file = pictures["image"].parent / "jobs.jsonl"
    jobs_file.write_text(json.dumps({"type": "sdxl_image_fast", "prompt": "a pier", "image": "in.png",
                                     "mask": "mask.png", "strength": 0.6}) + "\n" +
                         json.dumps({"type": "sdxl_image_fast", "prompt": "bad", "image": "nope.png"}) + "\n")
    res = cli("--smoke", "queue", "add", "--file", str(jobs_file))
    assert res.code == 2 and "jobs.jsonl:2" in res.err and "no such file" in res.err
    assert jobs(home) == [] and not (home / "inputs").exists()
    jobs_file.write_text(jobs_file.read_text().splitlines()[0] + "\n")
    assert cli("--smoke", "queue", "add", "--file", str(jobs_file)).code == 0
    stored = json.loads(jobs(home)[0]["config"])["inputs"]
    assert stored["strength"] == 0.6 and (home / stored["mask"]).is_file()


BAD = {
    "missing file": (["--image", "{tmp}/nope.png"], "no such file"),
    "a folder": (["--image", "{tmp}"], "a folder, not an image"),
    "not an image": (["--image", "{tmp}/notes.txt"], "not an image ourvidz can read"),
    "truncated": (["--image", "{tmp}/cut.png"], "truncated"),
    "over the pixel cap": (["--image", "{tmp}/huge.png"], "pixel cap"),
    "nothing to repaint": (["--image", "{tmp}/in.png", "--mask", "{tmp}/black.png"], "nothing to repaint"),
    "strength 0": (["--image", "{tmp}/in.png", "--strength", "0"], "outside (0, 1]"),
    "strength 1.5": (["--image", "{tmp}/in.png", "--strength", "1.5"], "outside (0, 1]"),
    "no step runs": (["--image", "{tmp}/in.png", "--strength", "0.6", "--steps", "1"], "give --steps 2 or more"),
    "mask without image": (["--mask", "{tmp}/mask.png"], "--mask needs --image"),
    "a URL": (["--image", "https://example.com/a.png"], "a URL"),
    "a video type": (["--image", "{tmp}/in.png", "--type", "video_fast"], "does not apply to video_fast"),
    "first frame on SDXL": (["--first-frame", "{tmp}/in.png"], "--first-frame does not apply to sdxl_image_fast"),
    "video on an image type": (["--video", "{tmp}/clip.mp4", "--type", "image_fast"], "--video does not apply"),
    "a still as video": (["--video", "{tmp}/in.png", "--type", "video_fast"], "a still picture, not a video"),
    "not a video": (["--video", "{tmp}/notes.txt", "--type", "video_fast"], "not a video ffmpeg can read"),
    "missing video": (["--video", "{tmp}/gone.mp4", "--type", "video_fast"], "no such file"),
    "strength with frames": (["--first-frame", "{tmp}/in.png", "--strength", "0.5", "--type", "video_fast"],
                             "--strength applies to --image and --video"),
    "video and frames": (["--video", "{tmp}/clip.mp4", "--last-frame", "{tmp}/in.png", "--type", "video_fast"],
                         "two ways to start a clip"),
    "a bad reference": (["--ref-image", "{tmp}/cut.png", "--type", "video_fast"], "--ref-image"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_inputs_exit_2_and_write_nothing(cli: Callable[..., Result], home: Path, tmp_path: Path,
                                             pictures: dict[str, Path], case: str) -> None:
    (tmp_path / "notes.txt").write_text("not a picture")
    whole = pictures["image"].read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[:len(whole) // 2])
    Image.new("L", (64, 64)).save(tmp_path / "black.png")
    Image.new("L", (9000, 9000)).save(tmp_path / "huge.png")
    from ourvidz_cli.library.outputs import write_mp4

    write_mp4(tmp_path / "clip.mp4", np.zeros((5, 80, 48, 3), np.uint8), 16, {})
    args, message = BAD[case]
    args = [a.format(tmp=tmp_path) for a in args]
    job_type = "sdxl_image_fast"
    if "--type" in args:
        job_type = args.pop(args.index("--type") + 1)
        args.remove("--type")
    for command in ("generate", "queue"):
        verb = ["generate"] if command == "generate" else ["queue", "add"]
        res = cli("--smoke", *verb, job_type, "x", *args)
        lines = res.err.strip().splitlines()
        assert res.code == 2 and len(lines) == 1 and message in lines[0], (case, res.err)
    assert jobs(home) == [] and not (home / "inputs").exists()
