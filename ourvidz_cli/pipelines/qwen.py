"""Qwen 2.5 Instruct through transformers: one chat answer, greedy, so the same input gives the same text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


@dataclass
class Qwen:
    tokenizer: Any
    model: Any
    device: str


def load(source: str, device: str, dtype: torch.dtype, mode: str = "full", loras: list[dict[str, Any]] | None = None,
         compile_: bool = False, single_file_config: str | None = None, vae: str | None = None) -> Qwen:
    if loras:
        raise ValueError("LoRAs are supported for the SDXL and Wan models, not for Qwen")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device).eval()
    return Qwen(tokenizer=tokenizer, model=model, device=device)


def chat(qwen: Qwen, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    inputs = qwen.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(qwen.device)
    with torch.inference_mode():
        # Greedy: Qwen's shipped generation config samples; a re-run must give the same prompt, and the
        # unused sampling knobs are cleared so transformers does not warn about them.
        out = qwen.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                  top_p=None, top_k=None)
    return qwen.tokenizer.decode(out[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
