"""SDXL prompts of any length with AUTOMATIC1111's weights (prompts.weights), for both text encoders.

The text is cut into 75-token chunks (BREAK starts a new one); each chunk is encoded on its own as
`<start> tokens <end> <pad>...` (77 tokens, padded as diffusers pads), the chunks' penultimate hidden
states are concatenated, and the pooled embedding is the first chunk's. A token's weight multiplies its
own embedding and nothing else: AUTOMATIC1111's "No norm" emphasis (its default also rescales the whole
prompt to keep the mean, which shifts every token). Prompt and negative are padded to the same number of
chunks. A prompt with no syntax that fits one chunk never comes here: diffusers encodes it as it always did.
"""

from __future__ import annotations

from typing import Any

from ourvidz_cli.prompts.weights import BREAK, has_syntax, parse, plain

CHUNK = 75

Chunk = list[tuple[int, float]]


def needs_chunks(pipe: Any, text: str) -> bool:
    """Whether a prompt has weights, a BREAK, or more tokens than one chunk holds."""
    if has_syntax(text) and plain(parse(text)) is None:
        return True
    words = plain(parse(text)) if has_syntax(text) else text
    return any(len(tok(words, add_special_tokens=False).input_ids) > CHUNK
               for tok in (pipe.tokenizer, pipe.tokenizer_2) if tok is not None)


def _chunks(tokenizer: Any, text: str) -> list[Chunk]:
    chunks: list[Chunk] = [[]]
    for run, weight in parse(text):
        if (run, weight) == BREAK:
            if chunks[-1]:
                chunks.append([])
            continue
        for token in tokenizer(run, add_special_tokens=False).input_ids:
            if len(chunks[-1]) == CHUNK:
                chunks.append([])
            chunks[-1].append((token, weight))
    return chunks


def _encode(tokenizer: Any, encoder: Any, chunks: list[Chunk], device: Any) -> tuple[Any, Any]:
    """(hidden states of every chunk, concatenated; the first chunk's pooled output)."""
    import torch

    states, pooled = [], None
    for chunk in chunks:
        ids = [tokenizer.bos_token_id, *(t for t, _ in chunk), tokenizer.eos_token_id]
        ids += [tokenizer.pad_token_id] * (CHUNK + 2 - len(ids))
        weights = torch.tensor([1.0, *(w for _, w in chunk)] + [1.0] * (CHUNK + 1 - len(chunk)), device=device)
        out = encoder(torch.tensor([ids], device=device), output_hidden_states=True)
        hidden = out.hidden_states[-2]
        states.append(hidden * weights.to(hidden.dtype)[None, :, None])
        if pooled is None:
            pooled = out[0]
    return torch.cat(states, dim=1), pooled


def _both(pipe: Any, text: str, length: int) -> tuple[Any, Any]:
    import torch

    device = pipe._execution_device
    parts, pooled = [], None
    for tokenizer, encoder in ((pipe.tokenizer, pipe.text_encoder), (pipe.tokenizer_2, pipe.text_encoder_2)):
        if encoder is None:
            continue
        chunks = _chunks(tokenizer, text)
        chunks += [[] for _ in range(length - len(chunks))]
        states, pooled = _encode(tokenizer, encoder, chunks, device)
        parts.append(states)
    return torch.cat(parts, dim=-1), pooled


def encode(pipe: Any, prompt: str | list[str], negative: str) -> dict[str, Any]:
    """The embeddings to hand an SDXL pipeline instead of `prompt` and `negative_prompt` (a list: one
    prompt per image, stacked). An empty negative is left out, so the pipeline zeroes it as it does for a
    plain prompt."""
    import torch

    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    tokenizers = [t for t in (pipe.tokenizer, pipe.tokenizer_2) if t is not None]
    length = max(len(_chunks(tok, text)) for tok in tokenizers for text in (*prompts, negative or ""))
    each = [_both(pipe, p, length) for p in prompts]
    out = {"prompt_embeds": torch.cat([e for e, _ in each]), "pooled_prompt_embeds": torch.cat([p for _, p in each])}
    if negative:
        neg, neg_pooled = _both(pipe, negative, length)
        out |= {"negative_prompt_embeds": neg.repeat(len(prompts), 1, 1),
                "negative_pooled_prompt_embeds": neg_pooled.repeat(len(prompts), 1)}
    return out


def text_inputs(pipe: Any, prompt: str | list[str], negative: str, weighting: bool = True) -> dict[str, Any]:
    """What an SDXL job passes for its text (a list: one prompt per image): the strings, as before, unless
    a prompt needs chunks and weights (`(fox:1.0)` is passed as `fox`). Without `weighting` (a job from
    before it), the strings."""
    if not weighting:
        return {"prompt": prompt, "negative_prompt": negative or None}
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not any(needs_chunks(pipe, t) for t in (*prompts, negative or "")):
        words = [plain(parse(t)) if has_syntax(t) else t for t in (*prompts, negative or "")]
        return {"prompt": words[0] if isinstance(prompt, str) else words[:-1], "negative_prompt": words[-1] or None}
    return encode(pipe, prompt, negative)
