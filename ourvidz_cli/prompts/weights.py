"""AUTOMATIC1111's prompt weighting, parsed: `(word)` x1.1, `((word))` x1.21, `(word:1.3)`, `[word]`
divided by 1.1, `\\(` `\\)` `\\[` `\\]` `\\\\` for the characters themselves, and `BREAK` (the rest of the
prompt starts a new 75-token chunk). Unbalanced brackets are never an error: a `)` or `]` with nothing
open is text, and brackets left open weight everything after them, as AUTOMATIC1111 does.

The result is a list of (text, weight) runs, neighbours of equal weight merged; a BREAK is the run
("BREAK", -1.0).
"""

from __future__ import annotations

import re

ROUND, SQUARE = 1.1, 1 / 1.1
BREAK = ("BREAK", -1.0)
# One lexical piece: an escape, a bracket, `:weight)` closing a round bracket, plain text, or a lone `:`.
_PIECE = re.compile(r"\\[()\[\]\\]|\\|[(\[]|:\s*([+-]?[.\d]+)\s*\)|[)\]]|[^\\()\[\]:]+|:")
_BREAK = re.compile(r"\s*\bBREAK\b\s*")
_SYNTAX = re.compile(r"[()\[\]\\]|\bBREAK\b")


def has_syntax(text: str) -> bool:
    """Whether a prompt holds anything this parser reads as more than plain text."""
    return bool(_SYNTAX.search(text))


def parse(text: str) -> list[tuple[str, float]]:
    runs: list[list[object]] = []
    rounds: list[int] = []
    squares: list[int] = []

    def scale(start: int, factor: float) -> None:
        for run in runs[start:]:
            run[1] = float(run[1]) * factor  # type: ignore[arg-type]

    for match in _PIECE.finditer(text):
        piece, weight = match.group(0), match.group(1)
        if piece.startswith("\\"):  # an escaped character (a lone backslash is dropped, as A1111 does)
            runs.append([piece[1:], 1.0])
        elif piece in ("(", "["):
            (rounds if piece == "(" else squares).append(len(runs))
        elif weight is not None and rounds:
            scale(rounds.pop(), float(weight))
        elif piece == ")" and rounds:
            scale(rounds.pop(), ROUND)
        elif piece == "]" and squares:
            scale(squares.pop(), SQUARE)
        else:
            for i, part in enumerate(_BREAK.split(piece)):
                if i:
                    runs.append(list(BREAK))
                runs.append([part, 1.0])
    for start in rounds:
        scale(start, ROUND)
    for start in squares:
        scale(start, SQUARE)
    return _merged(runs or [["", 1.0]])


def _merged(runs: list[list[object]]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for text, weight in runs:
        if out and out[-1][1] == weight:
            out[-1] = (out[-1][0] + str(text), float(weight))  # type: ignore[arg-type]
        else:
            out.append((str(text), float(weight)))  # type: ignore[arg-type]
    return out


def plain(runs: list[tuple[str, float]]) -> str | None:
    """The prompt as plain text when the syntax changed no weight and broke no chunk (`(fox:1.0)` is
    `fox`): such a prompt is encoded exactly as one without syntax. None otherwise."""
    if any(weight != 1.0 for _, weight in runs):
        return None
    return "".join(text for text, _ in runs)


def stripped(text: str) -> str:
    """The words without the syntax (for encoders that take no weights)."""
    return " ".join(" ".join(t for t, w in parse(text) if (t, w) != BREAK).split())
