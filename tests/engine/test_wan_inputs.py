"""Images in (issue 26, the Wan part): reference frames through VACE (first, last, both, subject
references), video-to-video, and an image type's --image as a one-frame pass. Each is wired as diffusers'
own pipeline is (the same tiny components, inputs and seed give the same pixels), on the loaded Wan model's
encoder and VAE (a first-frame job after a text job loads the VACE transformer only)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, jobs, spawn

W, H, FRAMES = 48, 80, 5  # the smoke video types' size; a short clip keeps the CPU quick


@pytest.fixture
def frames_in(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    paths = {}
    for name, shape in (("first", (H, W)), ("last", (H, W)), ("ref", (40, 40))):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray((rng.random((*shape, 3)) * 255).astype(np.uint8)).save(paths[name])
    return paths


def _ours(cli: Callable[..., Result], job_type: str, *args: str) -> dict[str, Any]:
    res = cli("--smoke", "generate", job_type, "a fox in snow", "--seed", "4", "--steps", "2", "--guidance", "5",
              "--negative", "", "--no-worker", "--json", *args)
    assert res.code == 0, res.err
    return res.json()


def _clip(path: str) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    meta = reader.__next__()
    return np.stack([np.frombuffer(f, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for f in reader])


def _encoded(frames: np.ndarray, tmp_path: Path) -> np.ndarray:
    """diffusers' frames through the same H.264 writer as ours, read back: an MP4 is not lossless."""
    from ourvidz_cli.library.outputs import write_mp4

    path = tmp_path / f"direct-{len(list(tmp_path.iterdir()))}.mp4"
    write_mp4(path, frames, 16, {})
    return _clip(str(path))


def _wan(smoke_root: Path) -> Any:
    import torch
    from diffusers import WanPipeline

    pipe = WanPipeline.from_pretrained(smoke_root / "models" / "wan", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _frames(out: Any) -> np.ndarray:
    return (np.clip(np.asarray(out.frames[0]), 0.0, 1.0) * 255).round().astype(np.uint8)


def _vace_direct(smoke_root: Path, first: Path | None, last: Path | None, refs: list[Path]) -> np.ndarray:
    """diffusers' own VACE pipeline, as its docs build first/last-frame conditioning."""
    import torch
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    wan = _wan(smoke_root)
    transformer = WanVACETransformer3DModel.from_pretrained(smoke_root / "models" / "wan_vace", subfolder="transformer")
    pipe = WanVACEPipeline(tokenizer=wan.tokenizer, text_encoder=wan.text_encoder, vae=wan.vae,
                           scheduler=wan.scheduler, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    extra: dict[str, Any] = {}
    if refs:
        extra["reference_images"] = [Image.open(r).convert("RGB") for r in refs]
    if first or last:
        video = [Image.new("RGB", (W, H), (128, 128, 128)) for _ in range(FRAMES)]
        mask = [Image.new("L", (W, H), 255) for _ in range(FRAMES)]
        for at, path in ((0, first), (FRAMES - 1, last)):
            if path:
                video[at], mask[at] = Image.open(path).convert("RGB"), Image.new("L", (W, H), 0)
        extra |= {"video": video, "mask": mask}
    out = pipe(prompt="a fox in snow", negative_prompt=None, height=H, width=W, num_frames=FRAMES,
               num_inference_steps=2, guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(4),
               output_type="np", **extra)
    return _frames(out)


VACE_CASES = {"first frame": ("first",), "last frame": ("last",), "both": ("first", "last"), "reference": ("ref",)}


@pytest.mark.parametrize("case", list(VACE_CASES))
def test_reference_frames_give_diffusers_own_vace_pixels(cli: Callable[..., Result], smoke_root: Path,
                                                         frames_in: dict[str, Path], case: str,
                                                         tmp_path: Path) -> None:
    flags = {"first": "--first-frame", "last": "--last-frame", "ref": "--ref-image"}
    args = [a for name in VACE_CASES[case] for a in (flags[name], str(frames_in[name]))]
    ours = _ours(cli, "video_fast", "--frames", str(FRAMES), *args)
    want = _vace_direct(smoke_root, frames_in["first"] if "first" in VACE_CASES[case] else None,
                        frames_in["last"] if "last" in VACE_CASES[case] else None,
                        [frames_in["ref"]] if "ref" in VACE_CASES[case] else [])
    got = _clip(ours["outputs"][0])
    assert got.shape == want.shape
    assert np.array_equal(got, _encoded(want, tmp_path))


def test_video_to_video_and_a_one_frame_image_pass_give_diffusers_own_pixels(
        cli: Callable[..., Result], smoke_root: Path, frames_in: dict[str, Path], tmp_path: Path) -> None:
    import torch
    from diffusers import WanVideoToVideoPipeline

    image = Image.open(frames_in["first"]).convert("RGB")
    ours = np.asarray(Image.open(_ours(cli, "image_fast", "--image", str(frames_in["first"]), "--strength",
                                       "0.5")["outputs"][0]).convert("RGB"))
    v2v = WanVideoToVideoPipeline.from_pipe(_wan(smoke_root))
    v2v.set_progress_bar_config(disable=True)
    want = v2v(video=[image], prompt="a fox in snow", negative_prompt=None, strength=0.5, height=H, width=W,
               num_inference_steps=2, guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(4),
               output_type="np")
    assert np.array_equal(ours, _frames(want)[0])
    source = _ours(cli, "video_fast", "--frames", str(FRAMES))["outputs"][0]
    ours_clip = _clip(_ours(cli, "video_fast", "--video", source, "--strength", "0.5")["outputs"][0])
    decoded = [Image.fromarray(f) for f in _clip(source)]
    held = decoded + [decoded[-1]] * (17 - len(decoded))  # the job's 17 frames from a 5-frame clip
    want = v2v(video=held, prompt="a fox in snow", negative_prompt=None, strength=0.5, height=H, width=W,
               num_inference_steps=2, guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(4),
               output_type="np")
    assert np.array_equal(ours_clip, _encoded(_frames(want), tmp_path))


def test_first_frame_after_text_loads_only_the_vace_transformer(home: Path, frames_in: dict[str, Path]) -> None:
    base = ["video_fast", "a fox", "--seed", "1", "--steps", "1", "--frames", str(FRAMES)]
    for extra in ([], ["--first-frame", str(frames_in["first"])], ["--last-frame", str(frames_in["last"])]):
        proc = spawn(home, "--smoke", "queue", "add", *base, *extra)
        assert proc.wait(timeout=60) == 0, proc.communicate()[1]
    proc = spawn(home, "--smoke", "queue", "run", "--json")  # nothing loaded before, in a process of its own
    out, err = proc.communicate(timeout=300)
    ran = json.loads(out)
    assert proc.returncode == 0 and ran["completed"] == 3, err
    assert ran["model_loads"] == 2, err  # Wan once; then VACE's transformer once, for both reference jobs
    stored = json.loads(jobs(home)[1]["config"])
    assert stored["vace"]["name"] == "wan_vace" and stored["inputs"]["first_frame"].startswith("inputs/")
    assert not (Path(stored["vace"]["source"]) / "text_encoder").exists()  # nothing of UMT5 to load twice

def test_the_plan_counts_the_vace_load(cli: Callable[..., Result], frames_in: dict[str, Path]) -> None:
    base = ["video_fast", "a fox", "--seed", "1", "--steps", "1", "--frames", str(FRAMES)]
    assert cli("--smoke", "queue", "add", *base).code == 0
    assert cli("--smoke", "queue", "add", *base, "--first-frame", str(frames_in["first"])).code == 0
    plan = cli("--smoke", "queue", "plan", "--json", "--device", "cpu", "--vram-budget", "8GB").json()
    assert [s["loads"] for s in plan["steps"]] == [["wan"], ["wan_vace"]] and plan["model_loads"] == 2


def test_a_video_to_video_bundle_carries_its_clip(cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    """A bundle's reader once took only picture extensions under inputs/, refusing the clip it carried."""
    import shutil

    source = _ours(cli, "video_fast", "--frames", str(FRAMES))["outputs"][0]
    made = _ours(cli, "video_fast", "--frames", str(FRAMES), "--video", source, "--strength", "0.5")
    asset = next(a["id"] for a in cli("assets", "list", "--json").json() if a["job_id"] == made["job_id"])
    assert cli("assets", "bundle", str(asset), "--to", str(tmp_path / "clip.zip")).code == 0
    shutil.rmtree(home / "inputs")
    again = cli("--smoke", "rerun", "--bundle", str(tmp_path / "clip.zip"), "--no-worker", "--json")
    assert again.code == 0, again.err
    assert again.json()["match"] == "exact" and any(p.suffix == ".mp4" for p in (home / "inputs").iterdir())
