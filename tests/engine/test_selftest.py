"""`ourvidz selftest`: every family run and checked on this machine's device; a broken model is caught."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Result


def test_every_family_passes_on_this_device(cli: Callable[..., Result]) -> None:
    res = cli("selftest", "--json")
    assert res.code == 0, res.err
    report = res.json()
    assert report["ok"] and report["device"] == "cpu"
    by_family = {f["family"]: f for f in report["families"]}
    assert set(by_family) == {"sdxl", "wan", "wan_vace", "qwen"}
    assert by_family["wan"]["shape"] == "17x80x48x3"  # a video family is run as video
    # VACE's transformer alone is checked, run as a first-frame job inside the loaded Wan pipeline.
    assert by_family["wan_vace"]["shape"] == "17x80x48x3" and by_family["wan_vace"]["job_type"] == "video_fast"
    assert {p["component"] for p in by_family["wan_vace"]["placements"]} == {"transformer"}
    for check in by_family.values():
        assert check["ok"] and check["deterministic"] and check["finite"] and check["placements"]
        assert all(p["device"] == "cpu" and p["dtype"] == "float32" for p in check["placements"])


def test_nan_weights_are_caught_and_named(cli: Callable[..., Result], home: Path, smoke_root: Path,
                                          tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    (home / "smoke").unlink()
    shutil.copytree(smoke_root, home / "smoke")  # a copy: the session's models stay sound
    weights = home / "smoke" / "models" / "sdxl" / "unet" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    name = next(k for k, t in tensors.items() if t.is_floating_point() and k.endswith("weight"))
    tensors[name].view(-1)[0] = math.nan
    save_file(tensors, weights, metadata={"format": "pt"})
    res = cli("selftest", "--json")
    assert res.code == 1
    by_family = {f["family"]: f for f in res.json()["families"]}
    assert not by_family["sdxl"]["ok"] and not by_family["sdxl"]["finite"]
    assert "unet" in by_family["sdxl"]["error"]
    assert by_family["wan"]["ok"] and by_family["qwen"]["ok"]
    plain = cli("selftest")
    assert plain.code == 1 and "FAILED" in plain.out and "non-finite outputs from unet" in plain.out
