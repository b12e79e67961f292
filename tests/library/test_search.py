"""`assets list --search` over the FTS5 index: phrases, prefixes, boolean queries, relevance, the
negative prompt and project/scene names, kept in step by triggers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ourvidz_cli.catalog.load import load_catalog
from ourvidz_cli.catalog.resolve import resolve_job
from ourvidz_cli.engine.models.smoke import smoke_catalog_path
from ourvidz_cli.ledger import Ledger
from tests.conftest import Result

PROMPTS = {
    "a red boat at dusk": "fog",
    "a boat that is red": "",
    "boat boat boat on a boat lake": "",
    "a lighthouse at dawn": "",
}


def _library(cli: Callable[..., Result], home: Path) -> dict[str, int]:
    """One completed job per prompt, plus a storyboard scene in project 'harbour'; prompt -> job id."""
    for prompt, negative in PROMPTS.items():
        args = ["--negative", negative] if negative else []
        added = cli("--smoke", "queue", "add", "sdxl_image_fast", prompt, "--steps", "1", "--count", "1", *args)
        assert added.code == 0, added.err
    catalog = load_catalog(smoke_catalog_path(home))
    spec = resolve_job(catalog, "sdxl_image_fast", "a quiet pier", {"steps": 1, "count": 1})
    scene = {"title": "arrival", "shot": "wide", "duration_s": 2.0, "characters": []}
    Ledger(home / "ledger.db").projects.add("harbour", "script", "sdxl_image_fast", "manual", None, [],
                                            [(scene, spec)])
    ran = cli("queue", "run", "--json")
    assert ran.code == 0 and ran.json()["completed"] == 5, ran.err
    return {a["prompt"]: a["job_id"] for a in cli("assets", "list", "--json").json()}


def _found(cli: Callable[..., Result], query: str) -> list[int]:
    res = cli("assets", "list", "--json", "--search", query)
    assert res.code == 0, res.err
    return [a["job_id"] for a in res.json()]


def test_fts_queries_rank_and_reach_every_field(cli: Callable[..., Result], home: Path) -> None:
    ids = _library(cli, home)
    red_dusk, red_that, boats, light, pier = (ids[p] for p in [*PROMPTS, "a quiet pier"])
    assert _found(cli, '"red boat"') == [red_dusk]  # a phrase: the words in this order
    assert sorted(_found(cli, "red AND boat")) == sorted([red_dusk, red_that])
    assert _found(cli, "light*") == [light]  # a prefix
    assert sorted(_found(cli, "boat NOT red")) == [boats]
    assert _found(cli, '"boat"')[0] == boats  # most relevant first: four boats beat one
    assert _found(cli, '"fog"') == [red_dusk]  # the negative prompt
    assert _found(cli, "harbour OR arrival") == [pier]  # the project and the scene's title
    assert sorted(_found(cli, "lighthouse OR pier")) == sorted([light, pier])


def test_plain_text_later_enhancements_and_bad_queries(cli: Callable[..., Result], home: Path) -> None:
    ids = _library(cli, home)
    assert _found(cli, "house") == [ids["a lighthouse at dawn"]]  # inside a word, as before the index
    assert _found(cli, "fog") == []  # plain text reads prompts, as before; FTS also reads negatives
    ledger = Ledger(home / "ledger.db")
    with ledger.db.write() as conn:  # as the runner records Qwen's answer on a running job
        conn.execute("UPDATE jobs SET enhanced_prompt = 'cinematic seascape, volumetric light' WHERE id = ?",
                     [ids["a boat that is red"]])
    assert _found(cli, "volumetric*") == [ids["a boat that is red"]]
    res = cli("assets", "list", "--search", "boat AND")
    assert res.code == 2
    (line,) = res.err.strip().splitlines()
    assert "is not a valid search" in line and "prefix*" in line
