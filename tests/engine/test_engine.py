"""The GPU engine's logic on the tiny models: memory-budget eviction, the scheduler's preferences and
its no-starvation bound, Qwen batching, load counts on a mixed queue, the out-of-memory fallback,
LoRAs, and the models commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ourvidz_cli.catalog.load import load_catalog
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.engine.models.model_store import estimate_bytes
from ourvidz_cli.ledger import Ledger
from ourvidz_cli.queue import ClaimOrder, Worker
from tests.conftest import Result, jobs

TYPES = ["sdxl_image_fast", "video_fast", "image7b_fast_enhanced", "image_high", "sdxl_image_high", "image_fast",
         "video7b_high_enhanced", "video_high", "image7b_high_enhanced", "video7b_fast_enhanced"]


def smoke_catalog(home: Path):  # noqa: ANN201
    return load_catalog(home / "smoke" / "models.toml")


def sizes(home: Path) -> dict[str, int]:
    cat = smoke_catalog(home)
    return {name: int(estimate_bytes(m.as_ref()) or 0) for name, m in cat.models.items()}


def run_queue(home: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    """`ourvidz queue run --json` in a fresh process, so load counts start from nothing."""
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json", *args],
                          capture_output=True, text=True, timeout=600,
                          env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin", **(env or {})})
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_estimates_follow_dtype_and_keep_wans_vae_in_float32(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")  # the smoke catalog exists
    cat = smoke_catalog(home)
    sdxl = cat.models["sdxl"].as_ref()
    full, half = estimate_bytes(sdxl, "float32"), estimate_bytes(sdxl, "float16")
    assert full and half and abs(full - 2 * half) < 64
    wan = cat.models["wan"].as_ref()
    wan_full, wan_half = estimate_bytes(wan, "float32"), estimate_bytes(wan, "float16")
    vae_only = estimate_bytes(wan, "float32", skip=("text_encoder", "transformer"))
    assert wan_half == (wan_full - vae_only) // 2 + vae_only  # the VAE stays float32
    assert estimate_bytes(wan, "float32", skip=("text_encoder",)) < wan_full


def test_eviction_under_a_budget_that_fits_two_of_three(home: Path, cli: Callable[..., Result]) -> None:
    from ourvidz_cli.engine.models.manager import Engine

    cli("--smoke", "job-types")
    cat = smoke_catalog(home)
    size = sizes(home)
    budget = size["sdxl"] + size["wan"] + size["qwen"] - 1  # any two fit, never all three
    engine = Engine("cpu", budget)
    cfg = {name: m.as_ref() for name, m in cat.models.items()}
    engine.get(cfg["sdxl"])
    engine.get(cfg["wan"])
    assert engine.resident_sources() == [cfg["sdxl"].source, cfg["wan"].source] and engine.evictions == 0
    engine.get(cfg["sdxl"])  # a warm hit: sdxl becomes the most recently used
    engine.get(cfg["qwen"])  # does not fit: the least recently used (wan) goes
    assert engine.resident_sources() == [cfg["sdxl"].source, cfg["qwen"].source]
    assert engine.evictions == 1 and engine.loads == 3
    assert engine.resident_bytes() <= budget
    loaded, seconds = engine.get(cfg["qwen"])
    assert seconds == 0.0 and engine.loads == 3
    small = Engine("cpu", size["sdxl"] + 1)  # one model at a time
    for name in ("sdxl", "wan", "qwen", "sdxl"):
        small.get(cfg[name])
        assert len(small.resident_sources()) <= 2 and small.resident_bytes() <= size["sdxl"] + 1
    assert small.loads == 4


def test_budget_from_the_command_line(home: Path, cli: Callable[..., Result]) -> None:
    size = sizes(home) if (home / "smoke" / "models.toml").exists() else None
    cli("--smoke", "queue", "add", "sdxl_image_fast", "a", "--steps", "1", "--count", "1")
    size = size or sizes(home)
    cli("--smoke", "queue", "add", "video_fast", "b")
    cli("--smoke", "queue", "add", "sdxl_image_high", "c", "--steps", "1", "--count", "1")  # priority 2
    # sdxl and wan never fit together: the high sdxl job has to reload it.
    summary = run_queue(home, "--vram-budget", str(size["sdxl"] + size["wan"] - 1))
    assert summary["completed"] == 3 and summary["model_loads"] == 3 and summary["evictions"] == 2
    assert cli("queue", "run", "--vram-budget", "lots").code == 2
    assert cli("queue", "run", "--order", "random").code == 2


def _add(ledger: Ledger, home: Path, job_type: str, prompt: str, age_s: float = 0.0) -> int:
    spec = resolve_job(smoke_catalog(home), job_type, prompt, {"seed": 1})
    (job_id,) = ledger.queue.add([spec])
    if age_s:
        with ledger.db.write() as conn:
            conn.execute("UPDATE jobs SET created_at = created_at - ? WHERE id = ?", [age_s, job_id])
    return job_id


def test_scheduler_prefers_resident_models_then_age(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    ledger = Ledger(home / "ledger.db")
    cat = smoke_catalog(home)
    wan, sdxl = cat.models["wan"].source, cat.models["sdxl"].source
    old_sdxl = _add(ledger, home, "sdxl_image_fast", "old", age_s=30)
    new_wan = _add(ledger, home, "video_fast", "new")
    high_wan = _add(ledger, home, "video_high", "high, resident")
    w = Worker()
    assert ledger.queue.claim(w, 60, ClaimOrder((wan,)))["id"] == new_wan  # same priority: the loaded model wins
    assert ledger.queue.claim(w, 60, ClaimOrder((wan,)))["id"] == old_sdxl  # priority beats residency
    assert ledger.queue.claim(w, 60, ClaimOrder((sdxl,)))["id"] == high_wan
    a = _add(ledger, home, "video_fast", "a", age_s=10)
    b = _add(ledger, home, "sdxl_image_fast", "b")
    assert ledger.queue.claim(w, 60, ClaimOrder(()))["id"] == a  # nothing loaded: oldest first
    assert ledger.queue.claim(w, 60)["id"] == b


def test_no_starvation_bound(home: Path, cli: Callable[..., Result]) -> None:
    cli("--smoke", "job-types")
    ledger = Ledger(home / "ledger.db")
    cat = smoke_catalog(home)
    starving = _add(ledger, home, "sdxl_image_high", "waited an hour", age_s=3600)  # priority 2, not loaded
    fresh = [_add(ledger, home, "video_fast", f"fast {i}") for i in range(3)]
    w = Worker()
    # Within the bound, fast jobs on the loaded model go first ...
    assert ledger.queue.claim(w, 60, ClaimOrder((cat.models["wan"].source,), 7200))["id"] == fresh[0]
    # ... past it, the waiting job goes next whatever its priority or model.
    assert ledger.queue.claim(w, 60, ClaimOrder((cat.models["wan"].source,), 1800))["id"] == starving
    assert ledger.queue.claim(w, 60, ClaimOrder(order="fifo"))["id"] == fresh[1]


def test_mixed_queue_loads_each_model_once_and_batches_qwen(home: Path, cli: Callable[..., Result]) -> None:
    lines = [json.dumps({"type": TYPES[i % 10], "prompt": f"scene {i}: a harbor at dusk", "steps": 1,
                         "count": 1 if TYPES[i % 10].startswith("sdxl") else None, "seed": i}) for i in range(30)]
    jobfile = home / "mixed.jsonl"
    jobfile.write_text("\n".join(line.replace(', "count": null', "") for line in lines) + "\n")
    assert cli("--smoke", "queue", "add", "--file", str(jobfile)).code == 0
    smart = run_queue(home)
    assert smart["completed"] == 30, smart
    assert smart["model_loads"] == 3 and smart["evictions"] == 0
    # 12 enhanced jobs: the first one's Qwen call batches the other 11 while Qwen is loaded.
    assert smart["batched_enhancements"] == 11
    enhanced = [j for j in jobs(home) if j["enhancer_key"]]
    assert len(enhanced) == 12 and sum(j["enhance_cached"] for j in enhanced) == 11


def test_qwen_batch_is_capped_so_the_first_output_does_not_wait_for_the_whole_backlog(
        home: Path, cli: Callable[..., Result]) -> None:
    for i in range(5):
        assert cli("--smoke", "queue", "add", "image7b_fast_enhanced", f"harbor {i}", "--steps", "1").code == 0
    first = run_queue(home, "--max-jobs", "1", "--enhance-batch", "2")
    assert first["completed"] == 1 and first["batched_enhancements"] == 2  # not all 4 others
    rest = run_queue(home)
    assert rest["completed"] == 4 and rest["batched_enhancements"] == 1  # 2 cached, 1 asks, 1 batched
    assert sum(j["enhance_cached"] for j in jobs(home)) == 3


def test_one_model_budget_smart_order_beats_fifo(home: Path, cli: Callable[..., Result],
                                                 tmp_path: Path) -> None:
    lines = [json.dumps({"type": TYPES[i % 10], "prompt": f"shot {i}", "steps": 1, "seed": i,
                         **({"count": 1} if TYPES[i % 10].startswith("sdxl") else {})}) for i in range(30)]
    jobfile = home / "mixed.jsonl"
    jobfile.write_text("\n".join(lines) + "\n")
    assert cli("--smoke", "queue", "add", "--file", str(jobfile)).code == 0
    size = sizes(home)
    one = str(size["sdxl"] + 1)  # SDXL alone, or Wan with Qwen: never SDXL beside another model
    twin = tmp_path / "twin"
    import shutil

    shutil.copytree(home, twin, symlinks=True)
    smart = run_queue(home, "--vram-budget", one)
    fifo = run_queue(twin, "--vram-budget", one, "--order", "fifo")
    assert smart["completed"] == fifo["completed"] == 30
    assert smart["model_loads"] <= 3 + 2, smart["model_loads"]  # within a few of the minimum
    assert fifo["model_loads"] >= 2 * smart["model_loads"], (fifo["model_loads"], smart["model_loads"])


def _frames(path: Path) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    return np.stack([np.frombuffer(f, np.uint8) for f in reader]).reshape(-1, *meta["size"][::-1], 3)


def test_out_of_memory_mid_generation_retries_once_and_gives_the_same_video(home: Path,
                                                                            cli: Callable[..., Result]) -> None:
    """The fault is raised from inside the pipeline at its first step (as a CUDA allocation failure
    is), so the retry path runs for real: memory freed, VAE tiling and slicing switched on, the whole
    generation redone from the same seed. On the CPU there is no offload to switch on."""
    cli("--smoke", "queue", "add", "video_fast", "a harbor", "--seed", "5")
    cli("--smoke", "queue", "add", "video_fast", "a harbor", "--seed", "5")
    clean = run_queue(home, "--max-jobs", "1")
    rescued = run_queue(home, env={"OURVIDZ_FAULT_OOM": "1"})
    assert clean["completed"] == 1 and rescued["completed"] == 1
    first, second = jobs(home)
    assert first["fallback"] is None
    assert second["fallback"] == "out of memory; retried with tiling, slicing"
    log = cli("jobs", "log", str(second["id"])).out
    assert "out of memory; retried with tiling, slicing" in log
    videos = [Path(cli("jobs", "show", str(j["id"]), "--json").json()["outputs"][0]["path"]) for j in (first, second)]
    assert np.array_equal(_frames(videos[0]), _frames(videos[1]))

    cli("--smoke", "queue", "add", "video_fast", "hopeless")
    bad = run_queue(home, env={"OURVIDZ_FAULT_OOM": "2"})
    assert bad["failed"] == 1
    error = bad["jobs"][0]["error"]
    assert error.startswith("out of memory on cpu even with tiling, slicing") and "--size" in error


def test_out_of_memory_retry_evicts_the_other_models_first(home: Path, cli: Callable[..., Result]) -> None:
    # Qwen is still warm from enhancing the prompt when Wan runs out of memory: it goes before the retry.
    cli("--smoke", "queue", "add", "image7b_fast_enhanced", "a harbor", "--seed", "5", "--steps", "1")
    rescued = run_queue(home, env={"OURVIDZ_FAULT_OOM": "1"})
    assert rescued["completed"] == 1 and rescued["model_loads"] == 2 and rescued["evictions"] == 1
    assert jobs(home)[0]["fallback"] == "out of memory; evicted qwen; retried with tiling, slicing"


@pytest.fixture(scope="module")
def tiny_lora(tmp_path_factory: pytest.TempPathFactory, smoke_root: Path) -> Path:
    """A random LoRA on the tiny SDXL UNet, saved the way diffusers saves trained LoRAs."""
    import torch
    from diffusers import StableDiffusionXLPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(0)
    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl")
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    out = tmp_path_factory.mktemp("lora")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    StableDiffusionXLPipeline.save_lora_weights(out, unet_lora_layers=layers)
    return out / "pytorch_lora_weights.safetensors"


def test_lora_is_fused_and_recorded(home: Path, cli: Callable[..., Result], tiny_lora: Path,
                                    tmp_path: Path) -> None:
    from PIL import Image

    base = cli("--smoke", "generate", "sdxl_image_fast", "fox", "--seed", "3", "--steps", "2", "--count", "1",
               "--json")
    assert base.code == 0, base.err
    catalog = tmp_path / "lora.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\npath = "{home}/smoke/models/sdxl"\nrepo = false\n'
                       f'dtype = "float32"\nvae = false\nloras = [{{ path = "{tiny_lora}", weight = 0.8 }}]\n'
                       '[job_types.sdxl_image_fast]\nsize = "64x64"\n')
    styled = cli("--config", str(catalog), "generate", "sdxl_image_fast", "fox", "--seed", "3", "--steps", "2",
                 "--count", "1", "--json")
    assert styled.code == 0, styled.err
    a = np.asarray(Image.open(base.json()["outputs"][0]))
    b = np.asarray(Image.open(styled.json()["outputs"][0]))
    assert not np.array_equal(a, b)  # the LoRA changed the UNet
    job = cli("jobs", "show", str(styled.json()["job_id"]), "--json").json()
    (lora,) = job["config"]["model"]["loras"]
    assert lora["source"] == str(tiny_lora) and lora["weight"] == 0.8
    listed = cli("--config", str(catalog), "models", "list", "--json").json()
    assert [m["loras"] for m in listed if m["name"] == "sdxl"][0][0]["weight"] == 0.8
    missing = tmp_path / "missing.toml"
    missing.write_text(catalog.read_text().replace(str(tiny_lora), str(tmp_path / "nope.safetensors")))
    refused = cli("--config", str(missing), "generate", "sdxl_image_fast", "fox")
    assert refused.code == 2 and "LoRA" in refused.err


def test_models_commands(home: Path, cli: Callable[..., Result]) -> None:
    listed = cli("--smoke", "models", "list", "--json")
    assert listed.code == 0
    rows = {r["name"]: r for r in listed.json()}
    assert all(r["present"] and r["bytes"] > 0 and r["memory_bytes"] > 0 for r in rows.values())
    assert rows["wan"]["job_types"] and "image7b_fast_enhanced" in rows["qwen"]["job_types"]
    checked = cli("--smoke", "models", "check", "--json")
    assert checked.code == 0
    assert checked.json() == {"ok": True, "models": {"sdxl": [], "wan": [], "wan_vace": [], "other": [], "qwen": []}}
    pulled = cli("--smoke", "models", "pull", "sdxl", "--json")
    assert pulled.code == 0 and pulled.json()["pulled"][0]["fetched"] == []
    assert cli("--smoke", "models", "pull", "flux").code == 2

    real = subprocess.run([sys.executable, "-m", "ourvidz_cli", "models", "check", "--json"], capture_output=True,
                          text=True, timeout=60, env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin",
                                                      "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1"})
    assert real.returncode == 1
    report = json.loads(real.stdout)["models"]
    assert "ourvidz models pull sdxl" in report["sdxl"][0]
    offline = subprocess.run([sys.executable, "-m", "ourvidz_cli", "models", "pull", "qwen"], capture_output=True,
                             text=True, timeout=60, env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin",
                                                         "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 1 and "could not download Qwen/Qwen2.5-7B-Instruct" in offline.stderr
    assert "Traceback" not in offline.stderr


def test_damaged_weights_are_caught_by_check(home: Path, cli: Callable[..., Result], smoke_root: Path,
                                             tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "qwen"
    shutil.copytree(smoke_root / "models" / "qwen", copy)
    (copy / "model.safetensors").write_bytes(b"\xff" * 64)
    catalog = tmp_path / "c.toml"
    catalog.write_text(f'base = "default"\n[models.qwen]\npath = "{copy}"\nrepo = false\n')
    r = cli("--config", str(catalog), "models", "check", "qwen", "--json")
    assert r.code == 1 and "unreadable safetensors header" in r.json()["models"]["qwen"][0]




def test_single_file_sdxl_checkpoint(home: Path, cli: Callable[..., Result], smoke_root: Path,
                                     tmp_path: Path) -> None:
    """A community-style one-file SDXL checkpoint, with the smoke folder as its local config, loads the
    folder's exact weights; the same seed then gives the same picture (to within CPU kernels' rounding:
    the weights sit in memory laid out differently, and oneDNN's float sums follow the layout)."""
    import torch
    from PIL import Image

    from ourvidz_cli.catalog.job import ModelRef
    from ourvidz_cli.engine.families.sdxl import FAMILY as sdxl
    from tests.support.ldm_checkpoint import write_single_file

    folder_path = smoke_root / "models" / "sdxl"
    ckpt = write_single_file(folder_path, tmp_path / "tiny-sdxl.safetensors")
    ref = ModelRef("sdxl", "sdxl", str(ckpt), True, "float32", config=str(folder_path))
    from_file = sdxl.load(ref, "cpu", torch.float32)
    from_folder = sdxl.load(ModelRef("sdxl", "sdxl", str(folder_path), True, "float32"), "cpu", torch.float32)
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
        got, want = getattr(from_file, part).state_dict(), getattr(from_folder, part).state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want), part

    catalog = tmp_path / "single.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\npath = "{ckpt}"\nconfig = "{smoke_root}/models/sdxl"\n'
                       'repo = false\ndtype = "float32"\nvae = false\n[job_types.sdxl_image_fast]\nsize = "64x64"\n')
    one = cli("--config", str(catalog), "generate", "sdxl_image_fast", "a fox", "--seed", "9", "--steps", "2",
              "--count", "2", "--json")
    assert one.code == 0, one.err
    folder = cli("--smoke", "generate", "sdxl_image_fast", "a fox", "--seed", "9", "--steps", "2", "--count", "2",
                 "--json")
    for a, b in zip(one.json()["outputs"], folder.json()["outputs"], strict=True):
        diff = np.abs(np.asarray(Image.open(a), np.int16) - np.asarray(Image.open(b), np.int16))
        assert diff.max() <= 4 and diff.mean() < 0.5
    listed = {m["name"]: m for m in cli("--config", str(catalog), "models", "list", "--json").json()}
    assert listed["sdxl"]["single_file"] is True and listed["sdxl"]["present"] is True
    assert listed["sdxl"]["memory_bytes"] == estimate_bytes(load_catalog(catalog).models["sdxl"].as_ref())
    assert cli("--config", str(catalog), "models", "check", "sdxl").code == 0
    no_config = tmp_path / "noconfig.toml"
    no_config.write_text(catalog.read_text().replace(f'config = "{smoke_root}/models/sdxl"\n', ""))
    bad = cli("--config", str(no_config), "models", "check", "sdxl")
    assert bad.code == 1 and "config =" in bad.out


def test_wan_encoder_stays_in_ram_when_the_budget_is_tight(home: Path, cli: Callable[..., Result]) -> None:
    """Wan whole does not fit, Wan without its text encoder does: the encoder is kept off the device and
    encodes there, and the video is the same as with everything on the device."""
    from ourvidz_cli.engine.families.request import GenRequest
    from ourvidz_cli.engine.families.wan import FAMILY as wan
    from ourvidz_cli.engine.models.manager import Engine

    cli("--smoke", "job-types")
    cfg = smoke_catalog(home).models["wan"].as_ref()
    full = estimate_bytes(cfg)
    without = estimate_bytes(cfg, skip=("text_encoder",))
    engine = Engine("cpu", budget=(full + without) // 2, split_encoder=True)
    split, _ = engine.get(cfg)
    assert engine.mode(cfg) == "text_encoder_on_cpu" and engine.resident_bytes() == without
    whole = Engine("cpu", budget=full, split_encoder=True)
    plain, _ = whole.get(cfg)
    assert whole.mode(cfg) == "full"
    request = GenRequest("waves on rocks", "blurry", 2, 48, 80, 5, 1, 5.0, 7)
    a = wan.generate(split, request, lambda done, total: None).videos[0]
    b = wan.generate(plain, request, lambda done, total: None).videos[0]
    assert a.shape == b.shape == (5, 80, 48, 3)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_replacement_vae(home: Path, cli: Callable[..., Result], smoke_root: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "vae.toml"
    catalog.write_text(f'base = "default"\n[models.sdxl]\npath = "{smoke_root}/models/sdxl"\nrepo = false\n'
                       f'dtype = "float32"\nvae = "{smoke_root}/models/sdxl/vae"\n'
                       '[job_types.sdxl_image_fast]\nsize = "64x64"\n')
    r = cli("--config", str(catalog), "generate", "sdxl_image_fast", "fox", "--steps", "1", "--count", "1", "--json")
    assert r.code == 0, r.err
    job = cli("jobs", "show", str(r.json()["job_id"]), "--json").json()
    assert job["config"]["model"]["vae"] == f"{smoke_root}/models/sdxl/vae"
    assert cli("--config", str(catalog), "models", "check", "sdxl").code == 0
    gone = tmp_path / "gone.toml"
    gone.write_text(catalog.read_text().replace("/models/sdxl/vae", "/models/sdxl/no-vae"))
    bad = cli("--config", str(gone), "models", "check", "sdxl")
    assert bad.code == 1 and "VAE" in bad.out
    failed = cli("--config", str(gone), "generate", "sdxl_image_fast", "fox", "--steps", "1", "--count", "1")
    assert failed.code == 1 and "its VAE" in failed.err and "Traceback" not in failed.err


def test_compile_runs_and_is_reused_across_jobs(home: Path, cli: Callable[..., Result]) -> None:
    """`--compile` goes through torch.compile (inductor, on the CPU here) once per process: the denoiser
    the jobs ran is dynamo's compiled module, inductor really compiled graphs for it, and the second
    job found it warm."""
    import torch
    from torch._dynamo.eval_frame import OptimizedModule
    from torch._dynamo.utils import counters

    from ourvidz_cli.engine.models.handle import EngineHandle

    for prompt in ("waves", "more waves"):
        cli("--smoke", "queue", "add", "video_fast", prompt, "--seed", "4")
    torch._dynamo.reset()
    graphs_before = counters["stats"]["unique_graphs"]
    ran = cli("queue", "run", "--compile", "--json")
    assert ran.code == 0, ran.err
    summary = ran.json()
    assert summary["completed"] == 2 and summary["model_loads"] == 1
    assert counters["stats"]["unique_graphs"] > graphs_before  # dynamo captured graphs and inductor built them
    handle = EngineHandle(compile_=True)
    pipe, load_s = handle.get(smoke_catalog(home).models["wan"].as_ref())
    assert load_s == 0.0  # the same compiled pipeline the jobs used, still resident
    assert isinstance(pipe.transformer, OptimizedModule) and pipe.transformer._orig_mod is not None
