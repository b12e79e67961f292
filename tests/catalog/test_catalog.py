"""The catalog is data: the seed's numbers, validation, and per-job overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ourvidz_cli.catalog.load import load_catalog, packaged_catalog_path, smoke_overlay_path
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.errors import CatalogError, UsageError

SEED_TABLE = {
    # type: (model, steps, frames, WxH, count, output, enhanced)
    "sdxl_image_fast": ("sdxl", 15, None, (1024, 1024), 6, "png", False),
    "sdxl_image_high": ("sdxl", 25, None, (1024, 1024), 6, "png", False),
    "image_fast": ("wan", 4, 1, (480, 832), 1, "png", False),
    "image_high": ("wan", 6, 1, (480, 832), 1, "png", False),
    "video_fast": ("wan", 4, 17, (480, 832), 1, "mp4", False),
    "video_high": ("wan", 6, 17, (480, 832), 1, "mp4", False),
    "image7b_fast_enhanced": ("wan", 4, 1, (480, 832), 1, "png", True),
    "image7b_high_enhanced": ("wan", 6, 1, (480, 832), 1, "png", True),
    "video7b_fast_enhanced": ("wan", 4, 17, (480, 832), 1, "mp4", True),
    "video7b_high_enhanced": ("wan", 6, 17, (480, 832), 1, "mp4", True),
}
BUCKET_MB = {
    "sdxl_image_fast": 5, "sdxl_image_high": 10, "image_fast": 5, "image_high": 10, "video_fast": 50,
    "video_high": 200, "image7b_fast_enhanced": 20, "image7b_high_enhanced": 20, "video7b_fast_enhanced": 100,
    "video7b_high_enhanced": 100, "videos": None, "system_assets": 5, "reference_images": 50,
}


def test_default_catalog_has_the_seeds_ten_job_types_and_twelve_buckets_and_reference_images() -> None:
    cat = load_catalog(packaged_catalog_path())
    assert set(cat.job_types) == set(SEED_TABLE)
    for name, (model, steps, frames, size, count, output, enhanced) in SEED_TABLE.items():
        jt = cat.job_types[name]
        assert (jt.model, jt.steps, jt.frames, (jt.width, jt.height), jt.count, jt.output, jt.enhanced) == (
            model, steps, frames, size, count, output, enhanced), name
        assert jt.bucket == name
        assert jt.priority == (1 if "fast" in name else 2)
    assert {b: cat.buckets[b].max_mb for b in cat.buckets} == BUCKET_MB
    assert cat.models["sdxl"].repo and cat.models["wan"].repo and cat.models["qwen"].repo
    assert not cat.smoke


def test_smoke_overlay_keeps_job_types_but_points_at_local_models(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(smoke_overlay_path().read_text())
    cat = load_catalog(path)
    assert cat.smoke and set(cat.job_types) == set(SEED_TABLE)
    assert cat.models["wan"].path == tmp_path / "models" / "wan" and cat.models["wan"].repo is None
    assert cat.job_types["video_fast"].steps == 4 and cat.job_types["video_fast"].frames == 17


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is [not toml", "not valid TOML"),
        ("[models.a]\nkind='sdxl'\nrepo='x/y'\n", r"no \[buckets\]"),
        (
            "[models.a]\nkind='sdxl'\nrepo='x/y'\n[buckets.b]\nmime=['image/png']\n"
            "[job_types.t]\nmodel='nope'\nsteps=1\nsize='64x64'\noutput='png'\nbucket='b'\n",
            "model 'nope'",
        ),
        (
            "[models.a]\nkind='sdxl'\nrepo='x/y'\n[buckets.b]\nmime=['image/png']\n"
            "[job_types.t]\nmodel='a'\nsteps=1\nsize='64x64'\noutput='mp4'\nframes=5\nbucket='b'\n",
            "does not accept video/mp4",
        ),
        (
            "[models.a]\nkind='sdxl'\nrepo='x/y'\n[buckets.b]\nmime=['image/png']\n"
            "[job_types.t]\nmodel='a'\nsize='64x64'\noutput='png'\nbucket='b'\n",
            "malformed",
        ),
    ],
)
def test_bad_catalogs_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_missing_catalog() -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(Path("/nonexistent/models.toml"))


def test_overrides_are_validated_and_stored_in_the_resolved_config() -> None:
    cat = load_catalog(packaged_catalog_path())
    spec = resolve_job(cat, "video_fast", "  a fox  ", {"steps": "8", "size": "832x480", "frames": 33, "seed": 7})
    assert spec.prompt == "a fox" and spec.seed == 7
    assert (spec.config.steps, spec.config.width, spec.config.height, spec.config.frames) == (
        8, 832, 480, 33)
    assert spec.config.model.source == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    random_seeds = {resolve_job(cat, "image_fast", "x").seed for _ in range(5)}
    assert len(random_seeds) > 1
    with pytest.raises(UsageError, match="multiple of 16"):
        resolve_job(cat, "video_fast", "x", {"size": "500x832"})
    with pytest.raises(UsageError, match="4k\\+1"):
        resolve_job(cat, "video_fast", "x", {"frames": 16})
    with pytest.raises(UsageError, match="did you mean 'video_fast'"):
        resolve_job(cat, "video_fats", "x")
