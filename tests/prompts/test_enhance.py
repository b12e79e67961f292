"""Prompt enhancement: the answer cleaner on a corpus, the 77-token trim, the cache, and
`--enhance` end to end on the tiny Qwen (whose answers are noise: cleaning and fallback get exercised)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ourvidz_cli.prompts.cleaning import clean_answer, fit_tokens
from tests.conftest import Result, jobs

CORPUS = json.loads((Path(__file__).parent.parent / "corpus" / "enhance_answers.json").read_text())
LONG = ("a lighthouse at dawn, dramatic storm clouds, oil painting, by the sea, gulls flying over crashing "
        "waves, a lone keeper with a lantern, volumetric light")


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_cleaner_on_real_looking_answers(case: dict) -> None:
    text, why = clean_answer(case["answer"])
    if case["expect"] is None:
        assert text is None and case["reason"] in why
    else:
        assert why is None and text == case["expect"]


def words(n: int) -> Callable[[str], int]:
    return lambda text: len(text.split()) + n


def test_fit_tokens_keeps_whole_clauses_and_whole_words() -> None:
    text = "red fox, fresh snow, soft morning light, shallow depth of field"
    assert fit_tokens(text, words(0), 50) == (text, False)
    assert fit_tokens(text, words(0), 6) == ("red fox, fresh snow", True)
    assert fit_tokens(text, words(0), 7) == ("red fox, fresh snow, soft morning light", True)
    # One clause longer than the limit: cut between words, never inside one.
    got, trimmed = fit_tokens("an extraordinarily long single clause without commas", words(0), 3)
    assert trimmed and got == "an extraordinarily long"


def test_trim_uses_the_sdxl_tokenizer(smoke_root: Path) -> None:
    from ourvidz_cli.prompts.tokens import counter

    count = counter(str(smoke_root / "models" / "sdxl"), "tokenizer")
    assert count(LONG) > 77
    got, trimmed = fit_tokens(LONG, count, 77)
    assert trimmed and count(got) <= 77
    assert LONG.startswith(got) and LONG[len(got)] == ","


def run_enhance(home: Path, *args: str, catalog: tuple[str, ...] = ("--smoke",)) -> dict:
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", *catalog, "enhance", *args, "--json"],
                          capture_output=True, text=True, timeout=120, env={"OURVIDZ_HOME": str(home),
                                                                             "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_enhance_command_trims_caches_and_is_deterministic(cli: Callable[..., Result], home: Path) -> None:
    first = run_enhance(home, LONG, "--for", "sdxl")
    assert first["cached"] is False and first["model_loads"] == 1
    # Qwen answered (no fallback to the input), within SDXL's 77 CLIP tokens.
    assert first["output"] != LONG and "kept the original prompt" not in (first["note"] or "")
    assert 30 < first["tokens"] <= 77

    again = run_enhance(home, LONG, "--for", "sdxl")  # a new process: only the ledger's cache can answer
    assert again["cached"] is True and again["model_loads"] == 0 and again["output"] == first["output"]

    fresh = run_enhance(home, LONG, "--for", "sdxl", "--no-cache")
    assert fresh["cached"] is False and fresh["model_loads"] == 1 and fresh["output"] == first["output"]

    wan = run_enhance(home, LONG, "--for", "wan-video")  # another target is another cache entry
    assert wan["cached"] is False and wan["target"] == "wan-video" and wan["tokens"] <= 512

    # A tighter limit trims the same answer at a clause boundary, and says so.
    tight = home / "smoke" / "tight.toml"
    tight.write_text((home / "smoke" / "models.toml").read_text() + "\n[prompts.sdxl]\ntoken_limit = 30\n")
    cut = run_enhance(home, LONG, "--for", "sdxl", catalog=("--config", str(tight)))
    assert cut["trimmed"] is True and cut["tokens"] <= 30 and "trimmed at a clause boundary" in cut["note"]
    assert first["output"].startswith(cut["output"]) and first["output"][len(cut["output"])] == ","

    bad = cli("--smoke", "enhance", "x", "--for", "sdxl-turbo")
    assert bad.code == 2 and "sdxl" in bad.err
    assert cli("--smoke", "enhance", "  ", "--for", "sdxl").code == 2
    plain = cli("--smoke", "enhance", LONG, "--for", "sdxl")
    assert plain.code == 0 and plain.out.strip() == first["output"] and "from the cache" in plain.err


def test_enhance_flag_on_any_job_type_and_cache_across_jobs(cli: Callable[..., Result], home: Path) -> None:
    assert cli("--smoke", "queue", "add", "sdxl_image_fast", LONG, "--enhance", "--steps", "2").code == 0
    assert cli("--smoke", "queue", "add", "sdxl_image_fast", LONG, "--enhance", "--steps", "2").code == 0
    jobfile = home / "jobs.jsonl"
    jobfile.write_text('{"type": "video_fast", "prompt": "waves", "enhance": false}\n')
    assert cli("--smoke", "queue", "add", "--file", str(jobfile)).code == 0
    jobfile.write_text('{"type": "video_fast", "prompt": "waves", "enhance": "maybe"}\n')
    assert cli("--smoke", "queue", "add", "--file", str(jobfile)).code == 2
    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json"], capture_output=True,
                          text=True, timeout=300, env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["completed"] == 3
    assert summary["model_loads"] == 3  # qwen once (the second job hits the cache), sdxl, wan
    first, second, video = jobs(home)
    for job in (first, second):
        config = json.loads(job["config"])
        assert config["enhance"]["target"] == "sdxl" and config["enhancer"]["name"] == "qwen"
        assert job["prompt"] == LONG and job["enhanced_prompt"] and job["enhance_s"] is not None
        assert job["enhanced_prompt"] != LONG and "kept the original" not in (job["enhance_note"] or "")
    assert first["enhance_cached"] == 0 and second["enhance_cached"] == 1
    assert first["enhanced_prompt"] == second["enhanced_prompt"]
    assert video["enhanced_prompt"] is None and json.loads(video["config"])["enhancer"] is None
    log = cli("jobs", "log", str(first["id"])).out
    assert re.search(r"enhanced prompt \(sdxl\)", log) and "raw answer" in log
