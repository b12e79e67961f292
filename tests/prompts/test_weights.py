"""Weighted and long SDXL prompts (issue 27): AUTOMATIC1111's syntax parsed as AUTOMATIC1111 parses it,
prompts of any length encoded in 75-token chunks, a token's weight reaching that token only, and prompts
without syntax (or from before it) encoded exactly as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ourvidz_cli.prompts.weights import parse, stripped
from tests.conftest import Result

# AUTOMATIC1111's own parses (modules/prompt_parser.py, parse_prompt_attention's doctests), and ones
# worked out by its rules: escapes, BREAK, a lone closing bracket, brackets left open.
RECORDED = {
    "normal text": [("normal text", 1.0)],
    "an (important) word": [("an ", 1.0), ("important", 1.1), (" word", 1.0)],
    "(unbalanced": [("unbalanced", 1.1)],
    "\\(literal\\]": [("(literal]", 1.0)],
    "(unnecessary)(parens)": [("unnecessaryparens", 1.1)],
    "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).": [
        ("a ", 1.0), ("house", 1.5730000000000004), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
        (", sun, ", 1.1), ("sky", 1.4641000000000006), (".", 1.1)],
    "a cat BREAK a dog": [("a cat", 1.0), ("BREAK", -1.0), ("a dog", 1.0)],
    "smile) and [frown": [("smile) and ", 1.0), ("frown", 1 / 1.1)],
    "(fox:1.0)": [("fox", 1.0)],
    "((fox))": [("fox", 1.1 * 1.1)],
    "time: 5 (pm : 0.8 )": [("time: 5 ", 1.0), ("pm ", 0.8)],
    "": [("", 1.0)],
}


@pytest.mark.parametrize("text", list(RECORDED))
def test_the_parser_reads_as_automatic1111(text: str) -> None:
    assert parse(text) == RECORDED[text]


def test_syntax_removed_for_encoders_without_weights() -> None:
    assert stripped("a (red:1.4) fox [in] snow BREAK at night") == "a red fox in snow at night"


@pytest.fixture(scope="module")
def sdxl(smoke_root: Path) -> Any:
    import torch
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(smoke_root / "models" / "sdxl", dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_one_chunk_at_weight_one_is_diffusers_own_encoding(sdxl: Any) -> None:
    import torch

    from ourvidz_cli.prompts.sdxl_encode import encode

    with torch.inference_mode():
        ours = encode(sdxl, "a red fox in the snow", "")
        theirs = sdxl.encode_prompt("a red fox in the snow", device="cpu", do_classifier_free_guidance=False)
    assert torch.equal(ours["prompt_embeds"], theirs[0]) and torch.equal(ours["pooled_prompt_embeds"], theirs[2])


def test_a_weight_changes_that_tokens_embedding_only(sdxl: Any) -> None:
    import torch

    from ourvidz_cli.prompts.sdxl_encode import encode

    with torch.inference_mode():
        plain = encode(sdxl, "a cat on a wall", "")["prompt_embeds"]
        heavy = encode(sdxl, "(a:1.5) cat on a wall", "")["prompt_embeds"]
    changed = (plain != heavy).any(dim=-1)[0].nonzero().flatten().tolist()
    assert changed == [1]  # the first token after <start>, in both encoders' halves
    assert torch.allclose(heavy[0, 1], plain[0, 1] * 1.5)


def test_a_long_prompt_is_encoded_to_its_last_word(sdxl: Any) -> None:
    import torch

    from ourvidz_cli.prompts.sdxl_encode import encode, needs_chunks

    words = " ".join(["a quiet harbour at dawn with fishing boats"] * 25)  # about 200 real CLIP tokens
    assert needs_chunks(sdxl, words)
    tokens = len(sdxl.tokenizer(words + ", red sails", add_special_tokens=False).input_ids)
    chunks = -(-tokens // 75)  # the smoke tokenizer's vocabulary is tiny: more tokens than CLIP's
    with torch.inference_mode():
        red = encode(sdxl, words + ", red sails", "a blurry photo")
        tan = encode(sdxl, words + ", tan sails", "a blurry photo")
    assert red["prompt_embeds"].shape[1] == 77 * chunks == red["negative_prompt_embeds"].shape[1]  # padded alike
    last = 77 * (chunks - 1)
    assert not torch.equal(red["prompt_embeds"][:, last:], tan["prompt_embeds"][:, last:])  # the last words count
    assert torch.equal(red["prompt_embeds"][:, :last], tan["prompt_embeds"][:, :last])


def _png(cli: Callable[..., Result], prompt: str, *args: str) -> np.ndarray:
    res = cli("--smoke", "generate", "sdxl_image_fast", prompt, "--seed", "2", "--steps", "2", "--count", "1",
              "--no-worker", "--json", "--force", *args)
    assert res.code == 0, res.err
    return np.asarray(Image.open(res.json()["outputs"][0]))


def test_syntax_is_parsed_and_plain_prompts_keep_their_pixels(cli: Callable[..., Result], sdxl: Any) -> None:
    import torch

    fox = _png(cli, "fox")
    assert np.array_equal(_png(cli, "(fox:1.0)"), fox)  # parsed, not read as text
    assert not np.array_equal(_png(cli, "(fox:1.4)"), fox)
    want = sdxl(prompt="fox", negative_prompt="blurry, low quality, distorted, watermark, text",
                num_inference_steps=2, guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(2)).images[0]
    assert np.array_equal(fox, np.asarray(want))  # no syntax: exactly what diffusers gives for the string
    long = " ".join(["a quiet harbour at dawn with fishing boats"] * 25)
    assert not np.array_equal(_png(cli, long + ", red sails"), _png(cli, long + ", tan sails"))


def test_a_job_from_before_weighting_reads_its_brackets_as_text(sdxl: Any) -> None:
    from ourvidz_cli.prompts.sdxl_encode import text_inputs

    assert text_inputs(sdxl, "(fox:1.4)", "", weighting=False) == {"prompt": "(fox:1.4)", "negative_prompt": None}


def test_weights_on_wan_are_removed_and_the_log_says_so(cli: Callable[..., Result], home: Path) -> None:
    res = cli("--smoke", "generate", "image_fast", "a (red:1.3) fox", "--seed", "1", "--steps", "1", "--json")
    assert res.code == 0, res.err
    log = (home / "logs" / f"{res.json()['job_id']}.log").read_text()
    assert "prompt weighting" in log and "not applied on Wan" in log
    plain = cli("--smoke", "generate", "image_fast", "a red fox", "--seed", "1", "--steps", "1", "--json")
    same = [np.asarray(Image.open(r.json()["outputs"][0])) for r in (res, plain)]
    assert np.array_equal(*same)
