"""Tokenizers built offline for the tiny smoke models (no hub download): CLIP and T5 over a small
character vocabulary, good enough to run the real tokenizer classes end to end."""

from __future__ import annotations

import string
from typing import Any

CHARS = string.ascii_lowercase + string.digits + ".,!?'-:;()"


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in CHARS:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(
        vocab=vocab, merges=[], model_max_length=77, bos_token="<|startoftext|>",
        eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<|endoftext|>",
    )


def t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(ch, -3.0) for ch in CHARS] + [("\u2581" + ch, -3.5) for ch in CHARS]
    return T5Tokenizer(vocab=pieces, extra_ids=0)
