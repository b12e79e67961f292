"""Storyboards: a script split into scenes by Qwen, validated, repaired once, or split by paragraph.

Pure text and data here; the model call is passed in, so the parser is tested on a corpus of answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_SCENES = 50
DEFAULT_DURATION_S = 4.0
DURATION_RANGE = (0.5, 60.0)
MAX_SCENE_PROMPT = 4000


class StoryboardInvalid(ValueError):
    """The answer is not storyboard JSON; the message says where it went wrong."""


@dataclass(frozen=True)
class Character:
    name: str
    description: str


@dataclass(frozen=True)
class Scene:
    title: str
    shot: str
    duration_s: float = DEFAULT_DURATION_S
    characters: tuple[str, ...] = ()


@dataclass
class Board:
    scenes: list[Scene]
    characters: list[Character] = field(default_factory=list)


FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)(?:```|$)", re.DOTALL)
TRAILING_COMMA = re.compile(r",\s*([}\]])")


def extract_json(answer: str) -> Any:
    """The first JSON value in an answer that may wrap it in prose or a markdown fence."""
    text = answer.strip()
    fenced = FENCE.search(text)
    if fenced and fenced.group(1).strip():
        text = fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise StoryboardInvalid("the answer holds no JSON object")
    body = text[min(starts):]
    decoder = json.JSONDecoder()
    for candidate in (body, TRAILING_COMMA.sub(r"\1", body)):
        try:
            value, _end = decoder.raw_decode(candidate)
            return value
        except json.JSONDecodeError as exc:
            error = exc
    if error.pos >= len(body.rstrip()) - 1 or error.msg.startswith("Unterminated string") or _open_depth(body) > 0:
        raise StoryboardInvalid(f"the JSON is cut off at char {len(body)} (a truncated answer)")
    raise StoryboardInvalid(f"the JSON does not parse: {error.msg} at char {error.pos}")


def _open_depth(text: str) -> int:
    """How many brackets are still open at the end, ignoring those inside strings: > 0 means cut off."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return depth


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoryboardInvalid(f"{where} must be a non-empty string")
    return " ".join(value.split())


def validate(data: Any, max_scenes: int | None = None) -> Board:
    """A Board from parsed JSON, or StoryboardInvalid naming the first field that is wrong."""
    if isinstance(data, list):
        data = {"scenes": data}
    if not isinstance(data, dict):
        raise StoryboardInvalid("the JSON must be an object with \"scenes\"")
    raw_scenes = data.get("scenes")
    if not isinstance(raw_scenes, list) or not raw_scenes:
        raise StoryboardInvalid("\"scenes\" must be a non-empty list")
    characters = []
    raw_chars = data.get("characters", [])
    if not isinstance(raw_chars, list):
        raise StoryboardInvalid("\"characters\" must be a list")
    for i, c in enumerate(raw_chars):
        if not isinstance(c, dict):
            raise StoryboardInvalid(f"characters[{i}] must be an object with name and description")
        characters.append(Character(_text(c.get("name"), f"characters[{i}].name"),
                                    _text(c.get("description"), f"characters[{i}].description")))
    scenes = []
    for i, s in enumerate(raw_scenes[: max_scenes or MAX_SCENES]):
        if not isinstance(s, dict):
            raise StoryboardInvalid(f"scenes[{i}] must be an object")
        duration = s.get("duration_s", s.get("duration", DEFAULT_DURATION_S))
        if isinstance(duration, str):
            match = re.match(r"\s*(\d+(?:\.\d+)?)", duration)
            duration = float(match.group(1)) if match else None
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            raise StoryboardInvalid(f"scenes[{i}].duration_s must be a number of seconds")
        lo, hi = DURATION_RANGE
        names = s.get("characters", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StoryboardInvalid(f"scenes[{i}].characters must be a list of names")
        scenes.append(Scene(
            title=_text(s.get("title"), f"scenes[{i}].title"),
            shot=_text(s.get("shot", s.get("description")), f"scenes[{i}].shot"),
            duration_s=float(min(max(duration, lo), hi)),
            characters=tuple(n.strip() for n in names if n.strip()),
        ))
    return Board(scenes=scenes, characters=characters)


def parse(answer: str, max_scenes: int | None = None) -> Board:
    return validate(extract_json(answer), max_scenes)


def by_paragraph(script: str, scenes: int | None = None) -> Board:
    """The fallback: one scene per paragraph (blank-line separated), merged evenly down to `scenes`."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", script) if p.strip()]
    if not paras:
        paras = [" ".join(script.split())]
    if scenes and len(paras) > scenes:
        size = len(paras) / scenes
        paras = [" ".join(paras[round(i * size): round((i + 1) * size)]) for i in range(scenes)]
    paras = paras[:MAX_SCENES]
    return Board(scenes=[Scene(title=" ".join(p.split()[:6]), shot=p) for p in paras])


def scene_prompt(scene: Scene, characters: list[Character]) -> str:
    """The shot, then the fixed description of every character in it, word for word in every scene."""
    named = {n.lower() for n in scene.characters}
    shot_lower = scene.shot.lower()
    present = [c for c in characters if c.name.lower() in named or re.search(
        rf"\b{re.escape(c.name.lower())}\b", shot_lower)]
    text = scene.shot.rstrip(". ") + "."
    for c in present:
        text += f" {c.name}: {c.description.rstrip('. ')}."
    return text[:MAX_SCENE_PROMPT]


Ask = Callable[[list[dict[str, str]]], str]


@dataclass
class Plan:
    board: Board
    source: str  # "model", "model-repaired" or "paragraphs"
    note: str | None
    answers: list[str]


def plan(script: str, scenes: int | None, system: str, repair_system: str, ask: Ask) -> Plan:
    """Ask for the storyboard; on a bad answer ask once more with a repair prompt; then fall back."""
    want = f"Split this script into {scenes} scenes." if scenes else "Split this script into scenes."
    user = f"{want}\n\nSCRIPT:\n{script.strip()}"
    answers = [ask([{"role": "system", "content": system}, {"role": "user", "content": user}])]
    try:
        return Plan(parse(answers[0], scenes), "model", None, answers)
    except StoryboardInvalid as first:
        problem = str(first)
    answers.append(ask([
        {"role": "system", "content": repair_system},
        {"role": "user", "content": f"{user}\n\nYOUR PREVIOUS ANSWER:\n{answers[0][:4000]}\n\nPROBLEM: {problem}"},
    ]))
    try:
        return Plan(parse(answers[1], scenes), "model-repaired", f"first answer was invalid ({problem})", answers)
    except StoryboardInvalid as second:
        return Plan(by_paragraph(script, scenes), "paragraphs",
                    f"the model's answers were not storyboard JSON ({problem}; then {second}); "
                    "split the script by paragraph", answers)
