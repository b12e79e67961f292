"""The Qwen answer cache: one row per (model, target, system prompt, budgets, input), so a prompt that
was enhanced once never loads the model again."""

from __future__ import annotations

import json
import time
from typing import Any

from ourvidz_cli.catalog.job import EnhanceSpec, ModelRef
from ourvidz_cli.ledger.db import Database


def cache_key(enhancer: ModelRef, spec: EnhanceSpec, prompt: str) -> str:
    """Everything that shapes the answer; the same parts, in the same order, as every release stored."""
    import hashlib

    parts = [enhancer.source, enhancer.dtype, spec.target, spec.system, spec.max_new_tokens, spec.token_limit,
             spec.tokenizer.source if spec.tokenizer else None, prompt]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class EnhancementCache:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer, counting the hit; None when absent."""
        row = self.db.conn.execute("SELECT * FROM enhancements WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        with self.db.write() as conn:
            conn.execute("UPDATE enhancements SET hits = hits + 1 WHERE key = ?", [key])
        return dict(row)

    def put(self, key: str, model: str, answer: dict[str, Any]) -> None:
        """Store an answer: target, input, output, note, trimmed, tokens, seconds."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO enhancements (key, model, target, input, output, note, trimmed, tokens, "
                "seconds, created_at, hits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                [key, model, answer["target"], answer["input"], answer["output"], answer["note"],
                 int(answer["trimmed"]), answer["tokens"], answer["seconds"], time.time()],
            )
