"""Wildcards and alternatives (issue 28): `{a|b}`, `{2$$a|b|c}`, `__file__` and `__folder/file__`,
expanded from the job's seed (the same seed, the same words), per image in an SDXL batch, or into every
combination; the job keeps template and expansion; bad templates are refused before anything is written."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ourvidz_cli.errors import UsageError
from ourvidz_cli.prompts.wildcards import Expander
from tests.conftest import Result, jobs


@pytest.fixture
def cards(home: Path) -> Path:
    folder = home / "wildcards"
    (folder / "animals").mkdir(parents=True)
    (folder / "colors.txt").write_text("red\ngreen\n# a comment\n\nblue\n")
    (folder / "animals" / "cats.txt").write_text("__colors__ tabby\nsiamese\n")
    (folder / "numbers.txt").write_text("\n".join(f"n{i}" for i in range(100)))
    (folder / "loop.txt").write_text("a __loop2__\n")
    (folder / "loop2.txt").write_text("b __loop__\n")
    return folder


def test_expansion_follows_the_seed_and_reads_nested_files(cards: Path) -> None:
    expander = Expander(cards)
    template = "a {big|small} __animals/cats__ on {2$$x|y|z}"
    picks = {expander.expand(template, random.Random(seed)) for seed in range(40)}
    assert expander.expand(template, random.Random(7)) == expander.expand(template, random.Random(7))
    assert len(picks) > 5 and all(p.startswith("a ") for p in picks)
    assert any("tabby" in p and p.split()[2] in ("red", "green", "blue") for p in picks)
    assert all(p.count(", ") == 1 for p in picks)  # two different of x, y, z
    every = expander.every("{a|b} __colors__", 100)
    assert every == ["a red", "a green", "a blue", "b red", "b green", "b blue"]
    assert expander.expand("smile}", random.Random(0)) == "smile}"  # a } with nothing open is text


@pytest.mark.parametrize(("template", "message"), [("a {b|c", "never closed"), ("__loop__", "reaches itself"),
                                                   ("__nope__", "no file")])
def test_bad_templates_are_refused(cards: Path, template: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Expander(cards).expand(template, random.Random(0))


def test_jobs_keep_template_and_expansion(cli: Callable[..., Result], home: Path, cards: Path) -> None:
    args = ["--smoke", "queue", "add", "sdxl_image_fast", "a __colors__ {boat|kite}", "--steps", "1"]
    assert cli(*args, "--seed", "5").code == 0 and cli(*args, "--seed", "5").code == 0
    first, second = jobs(home)
    assert first["prompt"] == second["prompt"] and "__" not in first["prompt"]  # the same seed, the same words
    assert json.loads(first["config"])["template"] == "a __colors__ {boat|kite}"
    combos = cli(*args, "--combinations", "--json")
    assert combos.code == 0 and len(combos.json()["job_ids"]) == 6
    assert {j["prompt"] for j in jobs(home)[2:]} == {f"a {c} {t}" for c in ("red", "green", "blue")
                                                      for t in ("boat", "kite")}
    per = cli("--smoke", "generate", "sdxl_image_fast", "a __numbers__ lighthouse", "--seed", "2", "--steps", "1",
              "--per-image", "--json")
    assert per.code == 0, per.err
    from PIL import Image

    said = [Image.open(p).text["parameters"].splitlines()[0] for p in per.json()["outputs"]]
    # 100 entries, six picks from their own generators (seed/image): six different words for this seed
    assert len(said) == 6 and len(set(said)) == 6 and all(s.endswith(" lighthouse") for s in said)
    for bad, message in (("a __nope__", "wildcard __nope__: no file"), ("a {b", "never closed")):
        res = cli("--smoke", "queue", "add", "sdxl_image_fast", bad)
        assert res.code == 2 and message in res.err
    assert len(jobs(home)) == 8 + 1


def test_search_finds_the_template_and_the_words(cli: Callable[..., Result], home: Path, cards: Path) -> None:
    made = cli("--smoke", "generate", "sdxl_image_fast", "a __colors__ {boat|kite}", "--seed", "5", "--steps", "1",
               "--count", "1", "--json")
    assert made.code == 0, made.err
    words = jobs(home)[0]["prompt"]
    for query in ("__colors__", words.split()[1], "colo*"):  # plain text, and full-text (prefix syntax)
        found = cli("assets", "list", "--search", query, "--json").json()
        assert [a["job_id"] for a in found] == [made.json()["job_id"]], query


def test_per_image_prompts_give_diffusers_own_pixels(cli: Callable[..., Result], cards: Path,
                                                     smoke_root: Path) -> None:
    """An SDXL batch with one prompt per image is diffusers' pipeline called with that list of prompts."""
    import numpy as np
    import torch
    from diffusers import StableDiffusionXLPipeline
    from PIL import Image

    res = cli("--smoke", "generate", "sdxl_image_fast", "a {red|blue|green} __numbers__ kite", "--seed", "2",
              "--steps", "2", "--count", "3", "--guidance", "5", "--negative", "", "--per-image", "--no-worker",
              "--json")
    assert res.code == 0, res.err
    config = cli("jobs", "show", str(res.json()["job_id"]), "--json").json()["config"]
    assert len(set(config["per_image"])) > 1
    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    want = pipe(prompt=list(config["per_image"]), num_inference_steps=2, guidance_scale=5.0, num_images_per_prompt=1,
                width=config["width"], height=config["height"], generator=torch.Generator("cpu").manual_seed(2),
                output_type="pil").images
    got = [np.asarray(Image.open(p).convert("RGB")) for p in res.json()["outputs"]]
    assert all(np.array_equal(g, np.asarray(w.convert("RGB"))) for g, w in zip(got, want, strict=True))
