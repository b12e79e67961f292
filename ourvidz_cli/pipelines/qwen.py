"""Qwen 2.5 Instruct through transformers: rewrites a prompt before generation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


@dataclass
class Qwen:
    tokenizer: Any
    model: Any
    device: str


def load(source: str, device: str, dtype: torch.dtype) -> Qwen:
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
    return Qwen(tokenizer=tokenizer, model=model, device=device)


def complete(qwen: Qwen, system: str, user: str, seed: int, max_new_tokens: int) -> str:
    """One chat turn, sampled with the job's seed so a re-run gives the same answer."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    inputs = qwen.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(qwen.device)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = qwen.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True)
    return qwen.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)


PREAMBLE = re.compile(r"^\s*(sure[,!.]?|here(?:'s| is)[^:\n]*:|enhanced prompt:|prompt:)\s*", re.IGNORECASE)


def clean(answer: str) -> str:
    """The usable prompt in a model's answer: no preamble, quotes, markdown or blank lines."""
    # Keep printable text only: a small or broken model can emit control bytes and half characters.
    text = "".join(ch if ch.isprintable() and ch != "\ufffd" else " " for ch in answer)
    text = PREAMBLE.sub("", text.strip())
    text = re.sub(r"[*_`#>]+", "", text)
    text = " ".join(text.split())
    return text.strip(" \"'\u201c\u201d")


def enhance(qwen: Qwen, system: str, prompt: str, seed: int, max_new_tokens: int) -> tuple[str, str | None]:
    """The enhanced prompt, and why the original was kept instead (None when it was not)."""
    cleaned = clean(complete(qwen, system, prompt, seed, max_new_tokens))
    if len(cleaned) < 3:
        return prompt, "the enhancer's answer was empty after cleaning; kept the original prompt"
    return cleaned, None
