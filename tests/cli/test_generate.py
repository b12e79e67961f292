"""`ourvidz generate` end to end on real tiny models: every job type, outputs, ledger rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from tests.catalog.test_catalog import SEED_TABLE
from tests.conftest import db, jobs


@pytest.mark.parametrize("job_type", list(SEED_TABLE))
def test_every_job_type_generates_into_its_bucket(cli, home: Path, job_type: str) -> None:
    res = cli("--smoke", "generate", job_type, "a lighthouse at dawn", "--json")
    assert res.code == 0, res.err
    out = res.json()
    _, steps, frames, _, count, output, enhanced = SEED_TABLE[job_type]
    assert out["status"] == "completed" and out["smoke"] is True
    assert len(out["outputs"]) == count
    (job,) = jobs(home)
    assert job["status"] == "completed" and job["attempts"] == 1 and job["duration_s"] > 0
    config = json.loads(job["config"])
    assert config["steps"] == steps and config["frames"] == frames
    assets = list(db(home).query("SELECT * FROM assets WHERE job_id = ? ORDER BY idx", [job["id"]]))
    assert len(assets) == count
    for asset, path in zip(assets, out["outputs"], strict=True):
        p = Path(path)
        assert p.parent == home / "outputs" / job_type and p.suffix == f".{output}"
        assert p.name == f"{job['id']}_{asset['idx']}.{output}"
        data = p.read_bytes()
        assert asset["sha256"] == hashlib.sha256(data).hexdigest() and asset["bytes"] == len(data)
        assert (asset["width"], asset["height"]) == (config["width"], config["height"])
        if output == "png":
            with Image.open(p) as im:
                assert im.size == (config["width"], config["height"])
                assert im.text["parameters"].startswith(job["enhanced_prompt"] or "a lighthouse at dawn")
                assert json.loads(im.text["ourvidz"])["job_id"] == job["id"]
        else:
            assert imageio_ffmpeg.count_frames_and_secs(str(p))[0] == frames == asset["frames"]
    if enhanced:  # Qwen really answered: not the fallback that keeps the original prompt
        assert job["enhanced_prompt"] not in (None, "a lighthouse at dawn") and job["enhance_s"] is not None
        assert "kept the original prompt" not in (job["enhance_note"] or "")
    else:
        assert job["enhanced_prompt"] is None
    assert not list((home / "outputs").rglob(".partial-*"))


def test_plain_output_is_one_path_per_line_and_says_it_is_noise(cli, home: Path) -> None:
    res = cli("--smoke", "generate", "image_fast", "a lighthouse at dawn", "--seed", "3")
    assert res.code == 0, res.err
    assert [Path(line).is_file() for line in res.out.splitlines()] == [True]
    assert "outputs are noise" in res.err


def test_same_seed_gives_identical_pixels_and_overrides_apply(cli, home: Path) -> None:
    args = ("--smoke", "generate", "sdxl_image_fast", "a red boat", "--seed", "1234", "--steps", "3",
            "--size", "32x48", "--count", "2", "--negative", "fog", "--guidance", "4.5", "--json")
    first, second = cli(*args).json(), cli(*args, "--force").json()  # --force: render it again, not reuse
    assert len(first["outputs"]) == 2
    # Pixels, not file bytes: each PNG's text chunk names its own job.
    def pixels(paths: list[str]) -> list[bytes]:
        return [Image.open(p).tobytes() for p in paths]

    assert pixels(first["outputs"]) == pixels(second["outputs"])
    assert pixels(first["outputs"])[0] != pixels(first["outputs"])[1]
    with Image.open(first["outputs"][0]) as im:
        assert im.size == (32, 48)
        assert "Negative prompt: fog" in im.text["parameters"] and "Seed: 1234" in im.text["parameters"]
    job = jobs(home)[0]
    config = json.loads(job["config"])
    assert (config["steps"], config["count"], config["guidance"], job["seed"]) == (3, 2, 4.5, 1234)


def test_mp4_is_h264_yuv420p_with_prompt_metadata(cli, home: Path) -> None:
    out = cli("--smoke", "generate", "video_fast", "waves on rocks", "--json").json()
    import subprocess

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", out["outputs"][0]],
                           capture_output=True, text=True)
    assert "Video: h264" in probe.stderr and "yuv420p" in probe.stderr
    assert "waves on rocks" in probe.stderr and f"ourvidz job {out['job_id']}" in probe.stderr
    assert "16 fps" in probe.stderr


def test_failed_job_exits_1_and_records_the_error(cli, home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\nrepo = false\npath = "{broken}"\ndtype = "float32"\n')
    res = cli("--config", str(catalog), "generate", "sdxl_image_fast", "x", "--size", "64x64", "--json")
    assert res.code == 1
    out = res.json()
    assert out["status"] == "failed" and "model 'sdxl' could not be loaded" in out["error"]
    assert "Traceback" not in res.err
    (job,) = jobs(home)
    assert job["status"] == "failed" and "could not be loaded" in job["error"]
    assert "Traceback" in (home / "logs" / f"{job['id']}.log").read_text()
