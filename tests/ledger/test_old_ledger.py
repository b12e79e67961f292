"""A ledger written by ourvidz 0.1.0 (before the package layout and the typed job) still opens, lists,
shows, reruns to the same pixels, runs its queued job, hits its Qwen cache, and syncs.

tests/data/ledger-0.1.0 was made by the commands in its ORIGIN.json on release 0.1.0's code. Its
stored configs name the smoke models where that machine had them; the test points those paths at this
session's smoke models, as a user who moved their model folder would.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import Result, rows
from tests.support import postgres
from tests.support.supabase_server import FakeSupabase

DATA = Path(__file__).parent.parent / "data" / "ledger-0.1.0"


@pytest.fixture
def old_home(home: Path) -> Path:
    origin = json.loads((DATA / "ORIGIN.json").read_text())
    shutil.copy(DATA / "ledger.db", home / "ledger.db")
    shutil.copytree(DATA / "outputs", home / "outputs")
    shutil.copytree(DATA / "logs", home / "logs")
    conn = sqlite3.connect(home / "ledger.db")
    old_root = str(Path(origin["smoke_root"]).parent)
    conn.execute("UPDATE jobs SET config = replace(config, ?, ?)", [old_root, str(home)])
    conn.commit()
    conn.close()
    return home


def frames(path: str) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    w, h = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader])


def test_old_ledger_lists_and_shows(old_home: Path, cli: Callable[..., Result]) -> None:
    listed = cli("queue", "list", "--json")
    assert listed.code == 0, listed.err
    assert [(j["id"], j["type"], j["status"]) for j in listed.json()] == [
        (5, "image_fast", "failed"), (4, "image_fast", "queued"), (3, "image7b_fast_enhanced", "completed"),
        (2, "video_fast", "completed"), (1, "sdxl_image_fast", "completed")]
    shown = cli("jobs", "show", "3", "--json").json()
    assert shown["config"]["enhance"]["target"] == "wan-image" and shown["enhanced_prompt"]
    assert len(cli("assets", "list", "--json").json()) == 4
    assert cli("jobs", "log", "5", "--json").json()["log"]
    assert cli("stats", "--json").code == 0 and cli("gallery", "--json").code == 0


def same_pixels(a: object, b: object) -> bool:
    """Equal to within one level in under 0.1% of values: a newer diffusers/torch may round a float
    differently (diffusers 0.42.1 moved one value of 12,288 by one level), which is not a different image."""
    x, y = np.asarray(a).astype(int), np.asarray(b).astype(int)
    return x.shape == y.shape and int(np.abs(x - y).max()) <= 1 and int((x != y).sum()) <= x.size // 1000


def test_old_ledger_reruns_to_the_same_pixels_and_runs_its_queue(old_home: Path, cli: Callable[..., Result]) -> None:
    old = {a["job_id"]: [] for a in cli("assets", "list", "--json").json()}
    for a in sorted(cli("assets", "list", "--json").json(), key=lambda a: (a["job_id"], a["idx"])):
        old[a["job_id"]].append(a["file"])
    sdxl = cli("--smoke", "rerun", "1", "--json")
    assert sdxl.code == 0, sdxl.err
    for before, after in zip(old[1], sdxl.json()["outputs"], strict=True):
        assert same_pixels(Image.open(before), Image.open(after))
    video = cli("--smoke", "rerun", "2", "--json").json()
    assert same_pixels(frames(old[2][0]), frames(video["outputs"][0]))
    enhanced = cli("--smoke", "rerun", "3", "--json").json()
    assert enhanced["enhanced_prompt"] == cli("jobs", "show", "3", "--json").json()["enhanced_prompt"]
    assert same_pixels(Image.open(old[3][0]), Image.open(enhanced["outputs"][0]))
    ran = cli("--smoke", "queue", "run", "--json")
    assert ran.code == 0 and [j["job_id"] for j in ran.json()["jobs"]] == [4]


def test_old_cache_keys_still_match() -> None:
    """The typed job computes the Qwen cache key 0.1.0 stored, so old answers are still found."""
    from ourvidz_cli.catalog.job import JobConfig
    from ourvidz_cli.ledger.enhancements import cache_key

    conn = sqlite3.connect(DATA / "ledger.db")
    config, prompt = conn.execute("SELECT config, prompt FROM jobs WHERE id = 3").fetchone()
    stored = {r[0] for r in conn.execute("SELECT key FROM enhancements")}
    conn.close()
    parsed = JobConfig.from_dict(json.loads(config))
    assert parsed.to_dict() == json.loads(config)  # and the typed job writes back exactly what it read
    assert parsed.enhancer and parsed.enhance and cache_key(parsed.enhancer, parsed.enhance, prompt) in stored


def test_old_ledger_syncs(old_home: Path, cli: Callable[..., Result], supa: FakeSupabase,
                          pg: postgres.Cluster) -> None:
    assert cli("--smoke", "sync", "setup").code == 0
    synced = cli("--smoke", "sync", "--json")
    assert synced.code == 0, synced.err
    assert synced.json()["uploaded"] == 4 and synced.json()["failed"] == 0
    assert len(rows(pg, "jobs")) == 3 and len(rows(pg, "images")) == 2 and len(rows(pg, "videos")) == 1
    assert cli("--smoke", "sync", "--json").json()["uploaded"] == 0


def test_old_ledger_is_indexed_for_search(old_home: Path, cli: Callable[..., Result]) -> None:
    """The migration that adds the search index fills it from the jobs already there."""
    found = cli("assets", "list", "--json", "--search", "light* OR wave*")
    assert found.code == 0, found.err
    assert sorted(a["job_type"] for a in found.json()) == ["sdxl_image_fast", "sdxl_image_fast", "video_fast"]
