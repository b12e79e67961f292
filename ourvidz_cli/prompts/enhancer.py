"""Prompt enhancement with Qwen: cache, model call, cleaning, fallback and token trimming.

`ourvidz enhance`, every enhanced job and storyboards go through here. A cache hit never loads Qwen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ourvidz_cli.catalog.job import EnhanceSpec, ModelRef
from ourvidz_cli.catalog.schema import Catalog
from ourvidz_cli.errors import UsageError
from ourvidz_cli.ledger.enhancements import EnhancementCache, cache_key
from ourvidz_cli.prompts.cleaning import clean_answer, fit_tokens


class Models(Protocol):
    """Where the enhancer gets its model (the engine handle): loaded on demand, counted by the caller."""

    def get(self, model: ModelRef) -> tuple[Any, float]: ...

    def family(self, kind: str) -> Any: ...


@dataclass
class Enhancement:
    input: str
    output: str  # the prompt to generate with: the enhanced one, or the input after a fallback
    target: str
    note: str | None  # why the input was kept, or that the answer was trimmed
    cached: bool
    seconds: float  # Qwen's time, 0 on a cache hit
    load_s: float
    tokens: int | None
    trimmed: bool
    raw: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "raw"}


class Enhancer:
    def __init__(self, cache: EnhancementCache, engine: Models) -> None:
        self.cache, self.engine = cache, engine

    def enhance(self, enhancer: ModelRef, spec: EnhanceSpec, prompt: str, use_cache: bool = True,
                on_phase: Callable[[str], None] = lambda _: None) -> Enhancement:
        key = cache_key(enhancer, spec, prompt)
        if use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                return Enhancement(prompt, hit["output"], spec.target, hit["note"], True, 0.0, 0.0,
                                   hit["tokens"], bool(hit["trimmed"]))
        on_phase(f"loading {enhancer.name}")
        qwen, load_s = self.engine.get(enhancer)
        on_phase(f"enhancing prompt with {enhancer.name} for {spec.target}")
        started = time.perf_counter()
        raw = self.engine.family(enhancer.kind).chat(
            qwen, [{"role": "system", "content": spec.system}, {"role": "user", "content": prompt}],
            spec.max_new_tokens)
        output, note, tokens, trimmed = self._fit(spec, prompt, raw)
        result = Enhancement(prompt, output, spec.target, note, False, time.perf_counter() - started, load_s,
                             tokens, trimmed, raw)
        self.cache.put(key, enhancer.name, result.as_dict())
        return result

    @staticmethod
    def _fit(spec: EnhanceSpec, prompt: str, raw: str) -> tuple[str, str | None, int | None, bool]:
        """The cleaned answer trimmed to the target's token budget, or the input prompt with why."""
        cleaned, why = clean_answer(raw)
        output, note, tokens, trimmed = prompt, why, None, False
        if cleaned is not None:
            output = cleaned
        else:
            note = f"{why}; kept the original prompt"
        tok = spec.tokenizer
        if spec.token_limit and tok:
            from ourvidz_cli.prompts.tokens import counter

            count = counter(tok.source, tok.subfolder)
            output, trimmed = fit_tokens(output, count, spec.token_limit)
            tokens = count(output)
            if trimmed:
                trim_note = f"trimmed at a clause boundary to {tokens} of {spec.token_limit} {tok.model} tokens"
                note = f"{note}; {trim_note}" if note else trim_note
            if not output:
                output, note = prompt, "the enhanced prompt did not fit the token limit; kept the original prompt"
        return output, note, tokens, trimmed


def enhance_once(catalog: Catalog, cache: EnhancementCache, engine: Models, prompt: str, target: str,
                 use_cache: bool = True, on_phase: Callable[[str], None] = lambda _: None) -> Enhancement:
    """`ourvidz enhance`: the same enhancement an enhanced job runs, outside any job."""
    from ourvidz_cli.catalog.resolve import check_prompt

    text = check_prompt(prompt)
    if catalog.enhancer is None:
        raise UsageError(f"the catalog {catalog.path} names no enhancer model (enhancer = \"qwen\")")
    spec = catalog.enhance_spec(catalog.enhancer, target)
    model = catalog.models[catalog.enhancer]
    reason = model.missing_reason()
    if reason:
        raise UsageError(reason)
    return Enhancer(cache, engine).enhance(model.as_ref(), spec, text, use_cache=use_cache, on_phase=on_phase)
