"""Reproducible bundles: `assets bundle` writes everything a job needs to be made again, and `rerun
--bundle` makes it again and compares the pixels."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import Result


def _bundle(cli: Callable[..., Result], tmp_path: Path, *generate: str) -> tuple[dict, Path]:
    made = cli("--smoke", "generate", *generate, "--json")
    assert made.code == 0, made.err
    job = made.json()
    asset = next(a["id"] for a in cli("assets", "list", "--json").json() if a["job_id"] == job["job_id"])
    dest = tmp_path / f"job{job['job_id']}.zip"
    res = cli("assets", "bundle", str(asset), "--to", str(dest), "--json")
    assert res.code == 0, res.err
    return job, dest


def _rewrite(src: Path, dest: Path, change: Callable[[str, bytes], bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, change(item.filename, zin.read(item)))


def test_bundle_holds_the_job_and_reruns_to_the_same_pixels(cli: Callable[..., Result], home: Path,
                                                            tmp_path: Path) -> None:
    job, dest = _bundle(cli, tmp_path, "sdxl_image_fast", "a lighthouse", "--seed", "4", "--steps", "2",
                        "--count", "2")
    with zipfile.ZipFile(dest) as zf:
        info = json.loads(zf.read("bundle.json"))
        for entry, path in zip(info["outputs"], job["outputs"], strict=True):
            assert hashlib.sha256(zf.read(entry["name"])).hexdigest() == entry["sha256"]
            assert zf.read(entry["name"]) == Path(path).read_bytes()
    assert info["config"]["seed"] == 4 and info["config"]["steps"] == 2 and info["type"] == "sdxl_image_fast"
    (model,) = info["models"]
    assert model["name"] == "sdxl" and len(model["index_sha256"]) == 64 and model["revision"].startswith("files:")
    assert all(info["packages"][p] for p in ("torch", "diffusers", "transformers", "ourvidz"))
    assert info["device"] == "cpu" and info["dtype"] == "float32"

    again = cli("--smoke", "rerun", "--bundle", str(dest), "--json")
    assert again.code == 0, again.err
    report = again.json()
    assert report["match"] == "exact" and report["bundle_job_id"] == job["job_id"]
    assert report["job_id"] != job["job_id"] and all(r["exact"] for r in report["comparison"])
    assert "the same weights index" in report["models"][0]


def test_moved_models_are_found_by_name_and_changed_pixels_are_measured(cli: Callable[..., Result], home: Path,
                                                                        tmp_path: Path) -> None:
    job, dest = _bundle(cli, tmp_path, "video_fast", "waves", "--seed", "2", "--steps", "1")

    def elsewhere(name: str, data: bytes) -> bytes:
        if name != "bundle.json":
            return data
        info = json.loads(data)
        info["config"]["model"]["source"] = info["models"][0]["source"] = "/nowhere/models/wan"  # another machine
        return json.dumps(info).encode()

    moved = tmp_path / "moved.zip"
    _rewrite(dest, moved, elsewhere)
    res = cli("--smoke", "rerun", "--bundle", str(moved), "--json")
    assert res.code == 0, res.err
    assert res.json()["match"] == "exact"  # an H.264 clip, decoded and compared frame by frame
    assert "the bundle's was /nowhere/models/wan" in res.json()["models"][0]

    png_job, png_bundle = _bundle(cli, tmp_path, "image_fast", "a fox", "--seed", "8", "--steps", "1")

    def brighter(name: str, data: bytes) -> bytes:
        if not name.endswith(".png"):
            return data
        pixels = np.asarray(Image.open(png_job["outputs"][0])).astype(np.int16)
        pixels[0, 0] = (pixels[0, 0] + 40) % 256
        out = tmp_path / "changed.png"
        Image.fromarray(pixels.astype(np.uint8)).save(out)
        return out.read_bytes()

    def recorded(name: str, data: bytes) -> bytes:  # a bundle true to its own manifest, made elsewhere
        if name != "bundle.json":
            return data
        info = json.loads(data)
        info["outputs"][0]["sha256"] = hashlib.sha256((tmp_path / "changed.png").read_bytes()).hexdigest()
        return json.dumps(info).encode()

    changed, changed_first = tmp_path / "changed.zip", tmp_path / "changed-pixels.zip"
    _rewrite(png_bundle, changed_first, brighter)
    _rewrite(changed_first, changed, recorded)
    res = cli("--smoke", "rerun", "--bundle", str(changed), "--json")
    assert res.code == 1
    (row,) = res.json()["comparison"]
    assert res.json()["match"] == "differs" and not row["exact"] and row["max_diff"] > 0 and row["mean_diff"] > 0
    shown = cli("--smoke", "rerun", "--bundle", str(changed))
    assert shown.code == 1 and "pixels differ" in shown.out and "max difference" in shown.out


def test_bad_bundles_and_arguments_are_usage_errors(cli: Callable[..., Result], tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    for args in (["rerun", "--bundle", str(junk)], ["rerun"], ["rerun", "1", "--bundle", str(junk)]):
        res = cli(*args)
        assert res.code == 2 and len(res.err.strip().splitlines()) == 1, res.err


def test_a_bundle_is_read_only_in_its_own_layout_and_checked_against_its_manifest(
        cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    job, dest = _bundle(cli, tmp_path, "sdxl_image_fast", "a lighthouse", "--seed", "4", "--steps", "2",
                        "--count", "1")
    with zipfile.ZipFile(dest) as zf:
        info = json.loads(zf.read("bundle.json"))
        png = zf.read(info["outputs"][0]["name"])
    next_output = str(home / "outputs" / "sdxl_image_fast" / f"{job['job_id'] + 1}_0.png")

    def crafted(name: str, data: bytes, sha: str | None = None, compress: int = zipfile.ZIP_STORED) -> Path:
        """The real manifest, its one output under `name` (the file the rerun is about to write, say)."""
        entry = {**info["outputs"][0], "name": name, "sha256": sha or hashlib.sha256(data).hexdigest()}
        path = tmp_path / f"crafted{len(list(tmp_path.glob('crafted*')))}.zip"
        with zipfile.ZipFile(path, "w", compression=compress) as zf:
            zf.writestr("bundle.json", json.dumps({**info, "outputs": [entry]}))
            zf.writestr(name, data)
        return path

    bad = {
        "an absolute name": crafted(next_output, png),
        "a name climbing out": crafted("outputs/../../" + Path(next_output).name, png),
        "bytes that are not the manifest's": crafted(info["outputs"][0]["name"], png[:-8] + b"\0" * 8,
                                                    sha=info["outputs"][0]["sha256"]),
        "a zip bomb": crafted(info["outputs"][0]["name"], b"\0" * (120 * 2**20), compress=zipfile.ZIP_DEFLATED),
    }
    for what, path in bad.items():
        res = cli("--smoke", "rerun", "--bundle", str(path), "--json")
        assert res.code == 2 and "not a bundle ourvidz can trust" in res.err, (what, res.err)
        assert len(res.err.strip().splitlines()) == 1 and res.out == "", what
    assert not Path(next_output).exists()  # refused before anything ran
