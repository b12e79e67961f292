"""Prompt enhancement with Qwen: cache, model call, cleaning, fallback and token trimming.

`ourvidz enhance`, every enhanced job and storyboards go through here. A cache hit never loads Qwen.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ourvidz_cli.ledger import Ledger
from ourvidz_cli.prompt_text import clean_answer, fit_tokens

Loader = Callable[[dict[str, Any]], tuple[Any, float]]


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


def cache_key(enhancer: dict[str, Any], spec: dict[str, Any], prompt: str) -> str:
    parts = [enhancer["source"], enhancer["dtype"], spec["target"], spec["system"], spec["max_new_tokens"],
             spec["token_limit"], (spec.get("tokenizer") or {}).get("source"), prompt]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class Enhancer:
    def __init__(self, ledger: Ledger, load: Loader, family: Callable[[str], Any]) -> None:
        self.ledger, self.load, self.family = ledger, load, family

    def _cached(self, key: str) -> dict[str, Any] | None:
        row = self.ledger.conn.execute("SELECT * FROM enhancements WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        with self.ledger.write() as conn:
            conn.execute("UPDATE enhancements SET hits = hits + 1 WHERE key = ?", [key])
        return dict(row)

    def _store(self, key: str, model: str, e: Enhancement) -> None:
        with self.ledger.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO enhancements (key, model, target, input, output, note, trimmed, tokens, "
                "seconds, created_at, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                [key, model, e.target, e.input, e.output, e.note, int(e.trimmed), e.tokens, e.seconds, time.time()],
            )

    def enhance(self, enhancer: dict[str, Any], spec: dict[str, Any], prompt: str, use_cache: bool = True,
                on_phase: Callable[[str], None] = lambda _: None) -> Enhancement:
        key = cache_key(enhancer, spec, prompt)
        if use_cache:
            hit = self._cached(key)
            if hit is not None:
                return Enhancement(prompt, hit["output"], spec["target"], hit["note"], True, 0.0, 0.0,
                                   hit["tokens"], bool(hit["trimmed"]))
        on_phase(f"loading {enhancer['name']}")
        qwen, load_s = self.load(enhancer)
        on_phase(f"enhancing prompt with {enhancer['name']} for {spec['target']}")
        started = time.perf_counter()
        family = self.family(enhancer["kind"])
        raw = family.chat(qwen, [{"role": "system", "content": spec["system"]}, {"role": "user", "content": prompt}],
                          spec["max_new_tokens"])
        cleaned, why = clean_answer(raw)
        output, note, tokens, trimmed = prompt, why, None, False
        if cleaned is not None:
            output = cleaned
        else:
            note = f"{why}; kept the original prompt"
        tok = spec.get("tokenizer")
        if spec.get("token_limit") and tok:
            from ourvidz_cli.pipelines.tokens import counter

            count = counter(tok["source"], tok["subfolder"])
            output, trimmed = fit_tokens(output, count, spec["token_limit"])
            tokens = count(output)
            if trimmed:
                trim_note = f"trimmed at a clause boundary to {tokens} of {spec['token_limit']} {tok['model']} tokens"
                note = f"{note}; {trim_note}" if note else trim_note
            if not output:
                output, note = prompt, "the enhanced prompt did not fit the token limit; kept the original prompt"
        result = Enhancement(prompt, output, spec["target"], note, False, time.perf_counter() - started, load_s,
                             tokens, trimmed, raw)
        self._store(key, enhancer["name"], result)
        return result
