"""A/B pairs (--ab): the enhanced prompt and the raw one, same seed and settings, linked, side by side."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import Result, jobs


def test_generate_ab_renders_both_and_links_them(cli: Callable[..., Result], home: Path) -> None:
    res = cli("--smoke", "generate", "image7b_fast_enhanced", "a fox in snow", "--seed", "3", "--ab", "--json")
    assert res.code == 0, res.err
    out = res.json()
    pair = out["pair"]
    assert out["enhanced_prompt"] and pair["enhanced_prompt"] is None and pair["pair_of"] == out["job_id"]
    enhanced, raw = (next(j for j in jobs(home) if j["id"] == i) for i in (out["job_id"], pair["job_id"]))
    assert raw["pair_of"] == enhanced["id"] and enhanced["pair_of"] is None
    assert cli("jobs", "show", str(raw["id"]), "--json").json()["pair_of"] == enhanced["id"]
    assert cli("jobs", "show", str(enhanced["id"]), "--json").json()["pair_of"] is None
    assert raw["seed"] == enhanced["seed"] == 3 and raw["prompt"] == enhanced["prompt"]
    assert raw["enhancer_key"] is None and '"enhancer": null' in raw["config"]
    a, b = (np.asarray(Image.open(p)) for p in (out["outputs"][0], pair["outputs"][0]))
    assert a.shape == b.shape and not np.array_equal(a, b)  # two prompts, the same noise: a real comparison

    shown = cli("assets", "show", str(_asset_of(cli, enhanced["id"])), "--json").json()
    assert shown["pair"] == {"job_id": raw["id"], "is": "the raw prompt", "files": pair["outputs"]}
    back = cli("assets", "show", str(_asset_of(cli, raw["id"])), "--json").json()
    assert back["pair"]["job_id"] == enhanced["id"] and back["pair"]["is"] == "enhanced"
    assert "A/B pair" in cli("assets", "show", str(_asset_of(cli, raw["id"]))).out

    page = Path(cli("gallery", "--json").json()["path"]).read_text()
    cards = re.findall(r'data-job="(\d+)"', page.split('<div class="ab">', 1)[1])[:2]
    assert cards == [str(enhanced["id"]), str(raw["id"])]  # enhanced left, raw right, in one block
    assert page.count('<div class="ab">') == 1


def _asset_of(cli: Callable[..., Result], job_id: int) -> int:
    return next(a["id"] for a in cli("assets", "list", "--json").json() if a["job_id"] == job_id)


def test_queue_add_ab_and_refusals(cli: Callable[..., Result], home: Path) -> None:
    added = cli("--smoke", "queue", "add", "image_fast", "a harbor", "--enhance", "--ab", "--json")
    assert added.code == 0, added.err
    first, second = added.json()["job_ids"]
    assert [j["pair_of"] for j in jobs(home)] == [None, first] and second == first + 1
    assert cli("queue", "run", "--json").json()["completed"] == 2
    refused = cli("--smoke", "generate", "image_fast", "no qwen here", "--ab")
    assert refused.code == 2 and "is not enhanced" in refused.err and len(jobs(home)) == 2
    both = cli("--smoke", "queue", "add", "--file", "x.jsonl", "--ab")
    assert both.code == 2 and len(jobs(home)) == 2
