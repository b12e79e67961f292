"""The library commands on a ledger filled by real smoke-model jobs: assets, rerun, metadata,
gallery (in headless Chromium), stats, doctor and job logs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ourvidz_cli.cli.main import main
from ourvidz_cli.library import media
from ourvidz_cli.library.a1111 import parse_parameters
from tests.conftest import Result

PROMPT_IMG = "A Lighthouse at dawn, 100% fog_bank"
PROMPT_VID = "waves crashing on black rocks"


def _run(*args: str) -> int:
    saved = sys.argv
    sys.argv = ["ourvidz", *args]
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        sys.argv = saved
    return 0


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, smoke_root: Path) -> Path:
    """One SDXL job (6 images), a video, an enhanced image, and a job that fails at model load."""
    h = tmp_path_factory.mktemp("library") / "home"
    h.mkdir()
    (h / "smoke").symlink_to(smoke_root, target_is_directory=True)
    empty = h.parent / "not-a-model"
    empty.mkdir()
    broken = h.parent / "broken.toml"
    broken.write_text(f'base = "default"\n[models.wan]\npath = "{empty}"\nrepo = false\ndtype = "float32"\n'
                      '[job_types.image_fast]\nsize = "48x80"\n')
    assert _run("--home", str(h), "--smoke", "generate", "sdxl_image_fast", PROMPT_IMG, "--seed", "11",
                "--steps", "3") == 0
    assert _run("--home", str(h), "--smoke", "generate", "video_fast", PROMPT_VID, "--seed", "12") == 0
    assert _run("--home", str(h), "--smoke", "generate", "image7b_fast_enhanced", "a cat", "--seed", "13") == 0
    assert _run("--home", str(h), "--config", str(broken), "generate", "image_fast", "never drawn",
                "--seed", "14") == 1
    return h


@pytest.fixture
def lib(filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the filled home, so tests that delete or add leave the others' view intact."""
    h = tmp_path / "lib"
    shutil.copytree(filled, h, symlinks=True)
    monkeypatch.setenv("OURVIDZ_HOME", str(h))
    return h


@pytest.fixture
def run(cli: Callable[..., Result], lib: Path) -> Callable[..., Result]:
    return lambda *args: cli("--home", str(lib), *args)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_assets_list_and_filters(run: Callable[..., Result]) -> None:
    every = run("assets", "list", "--json")
    assert every.code == 0
    items = every.json()
    assert len(items) == 8
    assert [a["created_at"] for a in items] == sorted((a["created_at"] for a in items), reverse=True)

    def ids(*args: str) -> list[int]:
        r = run("assets", "list", "--json", *args)
        assert r.code == 0, r.err
        return sorted(a["id"] for a in r.json())

    assert len(ids("--bucket", "video_fast")) == 1
    assert len(ids("--type", "sdxl_image_fast")) == 6
    assert len(ids("--search", "FOG_BANK")) == 6  # case-insensitive
    enhanced_cat = [a for a in run("assets", "list", "--json", "--type", "image7b_fast_enhanced").json()]
    assert len(enhanced_cat) == 1
    # Search reads enhanced prompts too: the cat's Qwen answer is found by a word only it has.
    word = next(w.strip(",") for w in enhanced_cat[0]["enhanced_prompt"].split() if w.strip(",") not in "a cat")
    assert enhanced_cat[0]["id"] in ids("--search", word)
    assert len(ids("--search", "100% fog_")) == 6  # % and _ are literal, not LIKE wildcards
    assert len(ids("--search", "10_% fog")) == 0
    assert len(ids("--status", "completed")) == 8
    assert ids("--status", "failed") == []
    assert len(ids("--since", "1h")) == 8
    assert ids("--since", "2999-01-01") == []
    bad = run("assets", "list", "--since", "yesterday-ish")
    assert bad.code == 2 and "--since" in bad.err and bad.out == ""
    table = run("assets", "list", "--type", "video_fast")
    assert table.code == 0 and "video_fast" in table.out and "8 asset" not in table.err


def test_assets_show_has_everything_to_reproduce(run: Callable[..., Result], lib: Path) -> None:
    video = run("assets", "list", "--json", "--bucket", "video_fast").json()[0]
    shown = run("assets", "show", str(video["id"]), "--json").json()
    assert shown["prompt"] == PROMPT_VID and shown["seed"] == 12
    assert shown["parameters"]["steps"] == 4 and shown["parameters"]["frames"] == 17
    assert shown["file"] == str(lib / "outputs" / "video_fast" / f"{video['job_id']}_0.mp4")
    assert shown["sha256"] == sha(Path(shown["file"])) and shown["bytes"] == Path(shown["file"]).stat().st_size
    assert shown["model"] == "wan" and shown["exists"] is True
    enhanced = run("assets", "list", "--json", "--type", "image7b_fast_enhanced").json()[0]
    shown = run("assets", "show", str(enhanced["id"]), "--json").json()
    assert shown["prompt"] == "a cat" and shown["enhanced_prompt"]
    assert run("assets", "show", "999").code == 2


def test_png_chunk_reads_back_as_a1111_parameters(run: Callable[..., Result]) -> None:
    item = run("assets", "list", "--json", "--type", "sdxl_image_fast").json()[0]
    text = media.png_text(Path(item["file"]))
    got = parse_parameters(text["parameters"])
    assert got["prompt"] == PROMPT_IMG
    assert got["negative_prompt"] == "blurry, low quality, distorted, watermark, text"
    p = got["params"]
    assert (p["Steps"], p["Seed"], p["Size"], p["Model"], p["CFG scale"]) == ("3", "11", "64x64", "sdxl", "7.0")
    assert p["Sampler"] and p["Job type"] == "sdxl_image_fast"
    record = json.loads(text["ourvidz"])
    assert record["job_id"] == item["job_id"] and record["config"]["seed"] == 11


def test_mp4_metadata_reads_back(run: Callable[..., Result]) -> None:
    item = run("assets", "list", "--json", "--type", "video_fast").json()[0]
    tags = media.mp4_metadata(Path(item["file"]))
    assert tags["title"] == PROMPT_VID
    assert f"ourvidz job {item['job_id']}" in tags["comment"] and "seed 12" in tags["comment"]
    assert media.video_frames(Path(item["file"])) == 17


def test_export_copies_with_manifest(run: Callable[..., Result], tmp_path: Path) -> None:
    dest = tmp_path / "export"
    r = run("assets", "export", "--to", str(dest), "--type", "sdxl_image_fast", "--json")
    assert r.code == 0, r.err
    assert r.json()["exported"] == 6
    manifest = json.loads((dest / "manifest.json").read_text())
    assert len(manifest["assets"]) == 6 and manifest["missing"] == []
    for entry in manifest["assets"]:
        copy = dest / entry["file"]
        assert copy.parent.name == "sdxl_image_fast" and sha(copy) == entry["sha256"]
        assert entry["prompt"] == PROMPT_IMG and entry["seed"] == 11
    assert not list(dest.rglob(".partial-*"))


def test_delete_removes_file_and_row_together(run: Callable[..., Result], lib: Path) -> None:
    item = run("assets", "list", "--json", "--type", "video_fast").json()[0]
    path = Path(item["file"])
    refused = run("assets", "delete", str(item["id"]))  # stdin is not a terminal under pytest
    assert refused.code == 2 and "--yes" in refused.err and path.exists()
    done = run("assets", "delete", str(item["id"]), "--yes", "--json")
    assert done.code == 0 and done.json()["deleted"] is True
    assert not path.exists() and not list(path.parent.glob(".partial-*"))
    assert run("assets", "show", str(item["id"])).code == 2
    assert len(run("assets", "list", "--json").json()) == 7
    assert run("assets", "delete", str(item["id"]), "--yes").code == 2


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def video_pixels(path: Path) -> np.ndarray:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen])


def test_rerun_gives_the_same_pixels(run: Callable[..., Result]) -> None:
    images = run("assets", "list", "--json", "--type", "sdxl_image_fast").json()
    job_id = images[0]["job_id"]
    again = run("rerun", str(job_id), "--json")
    assert again.code == 0, again.err
    out = again.json()
    assert out["rerun_of"] == job_id and out["job_id"] != job_id and len(out["outputs"]) == 6
    originals = {a["idx"]: Path(a["file"]) for a in images}
    for idx, new in enumerate(out["outputs"]):
        assert np.array_equal(pixels(Path(new)), pixels(originals[idx])), f"image {idx} differs"
    job = run("jobs", "show", str(out["job_id"]), "--json").json()
    assert job["seed"] == 11 and job["config"]["steps"] == 3

    other = run("rerun", str(job_id), "--seed", "99", "--json").json()
    assert other["status"] == "completed"
    assert not np.array_equal(pixels(Path(other["outputs"][0])), pixels(originals[0]))

    video = run("assets", "list", "--json", "--type", "video_fast").json()[0]
    again = run("rerun", str(video["job_id"]), "--json").json()
    assert np.array_equal(video_pixels(Path(again["outputs"][0])), video_pixels(Path(video["file"])))

    queued = run("rerun", str(job_id), "--queue", "--json")
    assert queued.code == 0 and run("jobs", "show", str(queued.json()["job_ids"][0]), "--json").json()["status"] \
        == "queued"
    assert run("rerun", "999").code == 2
    assert run("rerun", str(job_id), "--seed", "-1").code == 2


CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


def test_gallery_in_headless_chromium(run: Callable[..., Result], lib: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    r = run("gallery", "--json")
    assert r.code == 0, r.err
    index = Path(r.json()["path"])
    assert index == lib / "gallery" / "index.html"
    assert r.json()["assets"] == 8 and r.json()["failed_jobs"] == 1
    page_text = index.read_text()
    assert "file://" not in page_text and str(lib) not in page_text.split("</h1>")[1].split("<input")[1]

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in (
                "error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda q: problems.append(f"request failed: {q.url}"))
            page.goto(index.as_uri())
            page.wait_for_load_state("load")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images load once in view
            page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=20000)
            page.evaluate("window.scrollTo(0, 0)")
            cards = page.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.dataset.asset)")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
            buckets = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.dataset.bucket)")
            failed = page.locator(".card.failed").inner_text()
            reruns = page.evaluate("Array.from(document.querySelectorAll('.rerun code')).map(c => c.textContent)")
            poster = Image.open(io.BytesIO(page.locator(".card video").screenshot())).convert("RGB")
            page.locator(".card video").click()  # enlarges and plays in the dialog
            page.wait_for_function("document.querySelector('dialog video') && "
                                   "document.querySelector('dialog video').readyState >= 2", timeout=20000)
            playing = page.evaluate("(v => [document.getElementById('viewer').open, v.paused, v.videoWidth])"
                                    "(document.querySelector('dialog video'))")
            page.locator("#viewer").click()  # a click on the dialog closes it
            page.locator(".card img").first.click()
            page.wait_for_function("document.querySelector('dialog img') && "
                                   "document.querySelector('dialog img').complete", timeout=20000)
            enlarged = page.evaluate("(i => [i.src.split('/').slice(-2).join('/'), i.naturalWidth])"
                                     "(document.querySelector('dialog img'))")
            page.locator("#viewer").click()
            page.fill("#filter", "waves")
            visible = page.evaluate("Array.from(document.querySelectorAll('.card'))"
                                    ".filter(c => c.style.display !== 'none').length")
            shot = tmp_path / "gallery.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    listed = {str(a["id"]) for a in run("assets", "list", "--json").json()}
    assert {c for c in cards if c} == listed and cards.count("") == 1
    assert len(images) == 7 and all(ok and width > 0 for ok, width in images)
    # The video shows its poster frame before it is played: not a blank or uniform box.
    assert poster.size[0] > 40 and np.asarray(poster).std() > 10
    assert playing == [True, False, 48]  # the dialog plays the video at its own size
    assert enlarged[0].endswith(".png") and enlarged[1] == 48  # the full file, not its JPEG thumbnail
    assert "ourvidz rerun 1" in reruns and len(reruns) == len(cards)  # every card, the failed one too
    assert any("(1 job)" in h for h in headings) and not any("(1 jobs)" in h for h in headings)
    assert buckets[-1] == "sdxl_image_fast"  # newest bucket first: the SDXL job ran first
    assert "failed" in failed and "could not be loaded" in failed and "never drawn" in failed
    assert visible == 1
    assert shot.stat().st_size > 10_000
    if os.environ.get("OURVIDZ_ARTIFACTS"):
        shutil.copy(shot, Path(os.environ["OURVIDZ_ARTIFACTS"]) / "gallery.png")


def test_stats_per_type(run: Callable[..., Result]) -> None:
    r = run("stats", "--json")
    assert r.code == 0
    data = r.json()
    by = {t["type"]: t for t in data["types"]}
    assert set(by) == {"sdxl_image_fast", "video_fast", "image7b_fast_enhanced", "image_fast"}
    assert by["image_fast"]["failed"] == 1 and by["image_fast"]["success_rate"] == 0.0
    sd = by["sdxl_image_fast"]
    assert sd["completed"] == 1 and sd["success_rate"] == 1.0
    assert sd["median_s"] == sd["p95_s"] > 0
    assert sd["mean_peak_mem_mb"] > 50 and sd["mem_kinds"] == ["process_rss"]
    assert by["image7b_fast_enhanced"]["mean_enhance_s"] > 0 and sd["mean_enhance_s"] is None
    assert data["all"]["jobs"] == 4 and data["all"]["success_rate"] == 0.75
    table = run("stats")
    assert table.code == 0 and "75%" in table.out


def test_stats_percentiles() -> None:
    from ourvidz_cli.library.stats import percentile

    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95.0 and percentile(values, 50) == 50.0
    assert percentile([3.0], 95) == 3.0 and percentile([], 95) is None


def test_jobs_log(run: Callable[..., Result]) -> None:
    jobs = {j["type"]: j["id"] for j in run("queue", "list", "--json").json()}
    failed = run("jobs", "log", str(jobs["image_fast"]))
    assert failed.code == 0 and "Traceback" in failed.out and "ModelLoadError" in failed.out
    ok = run("jobs", "log", str(jobs["sdxl_image_fast"]), "--json").json()
    assert "measures: device=cpu" in ok["log"] and "generate_s=" in ok["log"] and "completed: 6" in ok["log"]
    assert run("jobs", "log", "999").code == 2
    queued = run("rerun", str(jobs["video_fast"]), "--queue", "--json").json()["job_ids"][0]
    assert run("jobs", "log", str(queued)).code == 2


def test_doctor(run: Callable[..., Result], lib: Path, tmp_path: Path) -> None:
    healthy = run("--smoke", "doctor", "--json")
    assert healthy.code == 0, healthy.out
    checks = {c["check"]: c for c in healthy.json()["checks"]}
    assert {"python", "torch", "ffmpeg", "catalog", "model sdxl", "model wan", "model qwen", "disk",
            "ledger"} <= set(checks)
    assert all(c["status"] != "fail" for c in checks.values())
    assert "integrity ok" in checks["ledger"]["detail"]

    missing = tmp_path / "missing.toml"
    missing.write_text(f'base = "default"\n[models.sdxl]\npath = "{lib}/smoke/models/sdxl"\nrepo = false\n'
                       f'[models.wan]\npath = "{lib}/smoke/models/wan"\nrepo = false\n'
                       f'[models.qwen]\npath = "{tmp_path}/nowhere/qwen"\nrepo = false\n')
    sick = run("--config", str(missing), "doctor")
    assert sick.code == 1
    assert "FAIL model qwen" in sick.out and "video7b_fast_enhanced" in sick.out
    assert "model qwen" in sick.err.splitlines()[-1]
    as_json = run("--config", str(missing), "doctor", "--json")
    assert as_json.code == 1 and as_json.json()["ok"] is False

    conn = sqlite3.connect(lib / "ledger.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(lib / "ledger.db", "r+b") as fh:  # every page after the header page: no longer a b-tree
        size = fh.seek(0, 2)
        fh.seek(page)
        fh.write(b"\xff" * (size - page))
    broken = run("--smoke", "doctor", "--json")
    assert broken.code == 1
    ledger = {c["check"]: c for c in broken.json()["checks"]}["ledger"]
    assert ledger["status"] == "fail"


def test_old_ledger_gains_the_new_columns(tmp_path: Path) -> None:
    """A ledger made before the per-job measures existed upgrades in place, keeping its jobs."""
    from ourvidz_cli.ledger import Ledger

    path = tmp_path / "ledger.db"
    led = Ledger(path)
    led.db.conn.execute("INSERT INTO jobs (uuid, type, status, prompt, seed, config, priority, attempts, max_attempts, "
                     "created_at) VALUES ('u', 'image_fast', 'queued', 'p', 1, '{}', 1, 0, 3, 0)")
    led.db.conn.execute("ALTER TABLE jobs DROP COLUMN rerun_of")
    led.db.conn.execute("DELETE FROM _migrations WHERE name = 'm003_job_measures'")
    for col in ("device", "peak_mem_mb", "mem_kind", "generate_s"):
        led.db.conn.execute(f"ALTER TABLE jobs DROP COLUMN {col}")
    led.db.conn.execute("PRAGMA user_version = 2")
    led.close()
    Ledger(path).close()
    conn = sqlite3.connect(path)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(jobs)")}
    assert {"peak_mem_mb", "rerun_of", "generate_s"} <= cols
    assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1


