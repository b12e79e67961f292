"""Turning an instruct model's answer into a usable prompt, and fitting it to a text encoder.

Pure text functions, no model: the runner, `ourvidz enhance` and the tests share them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Openers that chat models put before the prompt they were asked for.
PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok)\b[^\n:]*?[.!:,]\s*)?"
    r"(?:(?:here(?:'s| is| are)|below is|this is)\b[^\n:]*:\s*|"
    r"(?:\*\*)?(?:enhanced|improved|rewritten|refined|final|revised|new)?\s*(?:prompt|description)(?:\*\*)?\s*:\s*)",
    re.IGNORECASE,
)
# Sentences that explain the prompt instead of being it: dropped from the first one on.
AFTERWORD = re.compile(
    r"\s*(?:\n|^)\s*(?:note|explanation|this prompt|this version|i (?:added|included|focused|emphasized)|"
    r"let me know|feel free|hope this)\b.*$",
    re.IGNORECASE | re.DOTALL,
)
REFUSAL = re.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry,|i can(?:no|')t|i cannot|i won'?t|i'm unable|i am unable|"
    r"as an ai|i'm not able|i am not able|unfortunately,? i)",
    re.IGNORECASE,
)
FENCE = re.compile(r"```[a-zA-Z]*\n?(.*?)(?:```|$)", re.DOTALL)
MIN_WORDS = 2
MIN_LETTER_SHARE = 0.5


def clean_answer(answer: str) -> tuple[str | None, str | None]:
    """(prompt, None) when the answer holds a usable prompt; (None, why) when it does not."""
    text = "".join(ch if (ch.isprintable() or ch == "\n") and ch != "\ufffd" else " " for ch in answer)
    if not text.strip():
        return None, "the enhancer's answer was empty"
    if REFUSAL.match(text.strip().strip("\"'*")):
        return None, "the enhancer refused: " + " ".join(text.split())[:80]
    fenced = FENCE.search(text)
    if fenced and fenced.group(1).strip():
        text = fenced.group(1)
    # A markdown heading over the prompt ("### Prompt") is a label, not part of it.
    body = [ln for ln in text.splitlines() if not re.match(r"^\s*#{1,6}\s", ln)]
    if any(ln.strip() for ln in body):
        text = "\n".join(body)
    text = PREAMBLE.sub("", text.strip(), count=1)
    text = AFTERWORD.sub("", text)
    text = re.sub(r"^\s*(?:#+|[-*•]|\d+[.)])\s+", "", text, flags=re.MULTILINE)  # headings, bullets
    text = re.sub(r"(\*\*|__|`|\*)", "", text)
    text = " ".join(text.split())
    for left, right in (('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019")):
        if len(text) > 1 and text.startswith(left) and text.endswith(right):
            text = text[1:-1].strip()
    text = text.strip(" \"'\u201c\u201d")
    words = re.findall(r"[^\W\d_]{2,}", text)
    letters = sum(ch.isalpha() for ch in text)
    if len(words) < MIN_WORDS:
        return None, "the enhancer's answer had no usable prompt after cleaning"
    if letters < MIN_LETTER_SHARE * len(text.replace(" ", "")):
        return None, "the enhancer's answer was mostly symbols, not words"
    return text, None


CLAUSE_END = re.compile(r"(?<=[,;.!?])\s+")


def fit_tokens(text: str, count: Callable[[str], int], limit: int) -> tuple[str, bool]:
    """The longest prefix of whole clauses that counts at most `limit` tokens; (text, trimmed).

    When even the first clause is too long it is cut at a word boundary, never inside a word."""
    if count(text) <= limit:
        return text, False
    clauses = CLAUSE_END.split(text)
    kept = ""
    for clause in clauses:
        candidate = f"{kept} {clause}".strip() if kept else clause
        if count(candidate.rstrip(",;")) > limit:
            break
        kept = candidate
    if not kept:
        words = text.split()
        for n in range(len(words), 0, -1):
            candidate = " ".join(words[:n])
            if count(candidate) <= limit:
                kept = candidate
                break
    return kept.rstrip(" ,;"), True
