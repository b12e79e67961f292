"""Wildcards and alternatives in a prompt, as sd-dynamic-prompts and Fooocus write them:

- `{red|green|blue}` one of them; `{2$$a|b|c}` two different ones, joined with ", "; options nest.
- `__colors__` one line of `<home>/wildcards/colors.txt` (blank lines and `#` comments skipped), and
  `__animals/cats__` one of `<home>/wildcards/animals/cats.txt`; a line may hold more syntax.

A template is expanded from a seeded random generator (the job's seed: the same seed, the same words), or
into every combination. A `}` with nothing open is text; a `{` never closed, a missing wildcard file and a
wildcard that reaches itself are refused (UsageError) with the place named.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ourvidz_cli.errors import UsageError

_WILD = re.compile(r"__([A-Za-z0-9][A-Za-z0-9_\-/]*?)__")
_COUNT = re.compile(r"^(\d+)\$\$")


@dataclass(frozen=True)
class Choice:
    options: tuple[tuple[object, ...], ...]  # each option a sequence of str | Choice
    count: int = 1


def has_template(text: str) -> bool:
    return "{" in text or bool(_WILD.search(text))


def _parse(text: str, at: int = 0, inside: bool = False) -> tuple[list[object], int]:
    """Pieces up to the end (or, inside braces, up to the `|` or `}` that ends this option)."""
    pieces: list[object] = []
    buf = []
    while at < len(text):
        ch = text[at]
        if ch == "{":
            pieces += ["".join(buf)] if buf else []
            buf = []
            choice, at = _choice(text, at + 1)
            pieces.append(choice)
            continue
        if inside and ch in "|}":
            break
        buf.append(ch)
        at += 1
    pieces += ["".join(buf)] if buf else []
    return pieces, at


def _choice(text: str, at: int) -> tuple[Choice, int]:
    start = at
    count = 1
    if m := _COUNT.match(text[at:]):
        count, at = int(m.group(1)), at + m.end()
    options = []
    while True:
        option, at = _parse(text, at, inside=True)
        options.append(tuple(option))
        if at >= len(text):
            raise UsageError(f"the prompt's '{{' at character {start} is never closed with '}}'; close it")
        if text[at] == "}":
            return Choice(tuple(options), count), at + 1
        at += 1  # past "|"


class Expander:
    """Expands templates against a wildcard folder (None: wildcards are refused)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.cache: dict[str, list[str]] = {}

    def lines(self, name: str, stack: tuple[str, ...]) -> list[str]:
        if name in stack:
            raise UsageError(f"wildcard __{name}__ reaches itself ({' -> '.join((*stack, name))}); break the loop")
        if name not in self.cache:
            path = (self.folder / f"{name}.txt") if self.folder is not None else None
            if path is None or ".." in Path(name).parts or not path.is_file():
                raise UsageError(f"wildcard __{name}__: no file {path or name + '.txt'}; create it with one entry "
                                 "per line")
            entries = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
            self.cache[name] = [e for e in entries if e and not e.startswith("#")] or [""]
        return self.cache[name]

    def _text(self, piece: str, pick: random.Random, stack: tuple[str, ...]) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            return self.expand(pick.choice(self.lines(name, stack)), pick, (*stack, name))

        return _WILD.sub(one, piece)

    def _pieces(self, pieces: tuple[object, ...] | list[object], pick: random.Random, stack: tuple[str, ...]) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(self._text(piece, pick, stack))
            else:
                assert isinstance(piece, Choice)
                chosen = pick.sample(piece.options, min(piece.count, len(piece.options)))
                out.append(", ".join(self._pieces(o, pick, stack) for o in chosen))
        return "".join(out)

    def expand(self, template: str, pick: random.Random, stack: tuple[str, ...] = ()) -> str:
        return self._pieces(_parse(template)[0], pick, stack)

    def every(self, template: str, limit: int, stack: tuple[str, ...] = ()) -> list[str]:
        """Every combination (each `{...}` option and wildcard line; N$$ picks as combinations of N)."""
        return self._all_pieces(tuple(_parse(template)[0]), limit, stack)

    def _all_text(self, piece: str, limit: int, stack: tuple[str, ...]) -> list[str]:
        parts = _WILD.split(piece)  # text, name, text, name, ...
        out = [""]
        for i, part in enumerate(parts):
            if i % 2 == 0:
                out = [o + part for o in out]
            else:
                names = [v for line in self.lines(part, stack) for v in self.every(line, limit, (*stack, part))]
                out = [o + n for o in out for n in names]
        return out

    def _all_choice(self, choice: Choice, limit: int, stack: tuple[str, ...]) -> list[str]:
        rendered = [self._all_pieces(o, limit, stack) for o in choice.options]
        out = []
        for combo in itertools.combinations(range(len(rendered)), min(choice.count, len(rendered))):
            out += [", ".join(p) for p in itertools.product(*(rendered[i] for i in combo))]
        return out

    def _all_pieces(self, pieces: tuple[object, ...], limit: int, stack: tuple[str, ...]) -> list[str]:
        out = [""]
        for piece in pieces:
            texts = (self._all_text(piece, limit, stack) if isinstance(piece, str)
                     else self._all_choice(piece, limit, stack))  # type: ignore[arg-type]
            out = [a + b for a, b in itertools.product(out, texts)]
            if len(out) > limit:
                raise UsageError(f"the prompt has more than {limit:,} combinations; narrow it")
        return out
