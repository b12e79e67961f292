"""Storyboards: the scene parser on a corpus of real-looking answers, repair and paragraph fallback,
consistent characters, and a project rendered end to end on the tiny models."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ourvidz_cli.library.media import video_frames
from ourvidz_cli.prompts import storyboard as sb
from tests.conftest import Result

CORPUS = json.loads((Path(__file__).parent.parent / "corpus" / "storyboard_answers.json").read_text())
VALID = next(c["answer"] for c in CORPUS if c["name"] == "valid")
SCRIPT = ("Mara walks into the lighthouse at dusk, rain on her coat.\n\n"
          "She climbs the spiral stairs, lantern in hand.\n\n"
          "At the top, the great lamp flares to life over the sea.\n\n"
          "Far out, a fishing boat turns toward the light.\n")


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_parser_on_real_looking_answers(case: dict) -> None:
    if case["valid"]:
        board = sb.parse(case["answer"])
        assert len(board.scenes) == case["scenes"] and len(board.characters) == case["characters"]
        assert all(s.title and s.shot for s in board.scenes)
        if "duration" in case:
            assert board.scenes[0].duration_s == case["duration"]
    else:
        with pytest.raises(sb.StoryboardInvalid, match=None) as info:
            sb.parse(case["answer"])
        assert case["error"] in str(info.value)


def scripted(*answers: str) -> tuple[sb.Ask, list[list[dict[str, str]]]]:
    """Canned model answers in order; the calls are kept to check what was asked."""
    calls: list[list[dict[str, str]]] = []

    def ask(messages: list[dict[str, str]]) -> str:
        calls.append(messages)
        return answers[len(calls) - 1]

    return ask, calls


def test_plan_uses_a_valid_first_answer() -> None:
    ask, calls = scripted(VALID)
    plan = sb.plan(SCRIPT, 2, "SYS", "REPAIR", ask)
    assert plan.source == "model" and plan.note is None and len(calls) == 1
    assert "2 scenes" in calls[0][1]["content"] and "lighthouse" in calls[0][1]["content"]


def test_plan_repairs_once() -> None:
    truncated = next(c["answer"] for c in CORPUS if c["name"] == "truncated")
    ask, calls = scripted(truncated, VALID)
    plan = sb.plan(SCRIPT, None, "SYS", "REPAIR", ask)
    assert plan.source == "model-repaired" and len(plan.board.scenes) == 2
    assert calls[1][0]["content"] == "REPAIR" and "cut off" in calls[1][1]["content"]
    assert truncated[:40] in calls[1][1]["content"]


def test_plan_falls_back_to_paragraphs() -> None:
    ask, calls = scripted("I'm sorry, I can't help with that.", '{"shots": []}')
    plan = sb.plan(SCRIPT, None, "SYS", "REPAIR", ask)
    assert plan.source == "paragraphs" and len(calls) == 2
    assert [s.shot for s in plan.board.scenes][1] == "She climbs the spiral stairs, lantern in hand."
    assert "no JSON" in plan.note and "non-empty list" in plan.note
    merged = sb.plan(SCRIPT, 2, "SYS", "REPAIR", scripted("x", "y")[0])
    assert len(merged.board.scenes) == 2 and "lantern" in merged.board.scenes[0].shot


def test_more_scenes_than_asked_are_cut() -> None:
    assert len(sb.parse(VALID, max_scenes=1).scenes) == 1


def test_characters_are_described_the_same_in_every_scene() -> None:
    board = sb.Board(
        characters=[sb.Character("Mara", "a woman in her thirties, short grey hair, yellow raincoat"),
                    sb.Character("Tom", "an old fisherman with a white beard")],
        scenes=[sb.Scene("A", "Mara opens the door", characters=("Mara",)),
                sb.Scene("B", "Close on the lamp; mara's hand turns the key"),
                sb.Scene("C", "Tom steers the boat", characters=("Tom",))],
    )
    prompts = [sb.scene_prompt(s, board.characters) for s in board.scenes]
    mara = "Mara: a woman in her thirties, short grey hair, yellow raincoat."
    assert mara in prompts[0] and mara in prompts[1] and mara not in prompts[2]
    assert "Tom: an old fisherman with a white beard." in prompts[2]
    assert "Tom:" not in prompts[0]


def test_storyboard_to_rendered_video(cli: Callable[..., Result], home: Path) -> None:
    script = home / "lighthouse.txt"
    script.write_text(SCRIPT)
    made = cli("--smoke", "storyboard", str(script), "--type", "video_fast", "--scenes", "3", "--seed", "5",
               "--json")
    assert made.code == 0, made.err
    plan = made.json()
    # The tiny Qwen answers noise: two bad answers, then the paragraph fallback; never a crash.
    assert plan["project"] == "lighthouse" and plan["source"] == "paragraphs" and plan["note"]
    assert len(plan["answers"]) == 2 and len(plan["scenes"]) == 3
    assert plan["model_loads"] <= 1  # in this process an earlier test may already have Qwen warm

    shown = cli("project", "show", "lighthouse", "--json").json()
    assert [s["status"] for s in shown["scenes"]] == ["queued"] * 3
    assert shown["source"] == "paragraphs" and shown["note"] == plan["note"]
    early = cli("project", "render", "lighthouse")
    assert early.code == 1 and "not finished" in early.err and "queue run" in early.err

    dup = cli("--smoke", "storyboard", str(script), "--json")
    assert dup.code == 2 and "exists" in dup.err

    proc = subprocess.run([sys.executable, "-m", "ourvidz_cli", "queue", "run", "--json"], capture_output=True,
                          text=True, timeout=300, env={"OURVIDZ_HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["completed"] == 3

    shown = cli("project", "show", "lighthouse", "--json").json()
    assert [s["status"] for s in shown["scenes"]] == ["completed"] * 3
    assert all(s["outputs"][0]["kind"] == "video" for s in shown["scenes"])
    table = cli("project", "show", "lighthouse")
    assert table.code == 0 and "completed" in table.out

    rendered = cli("project", "render", "lighthouse", "--json")
    assert rendered.code == 0, rendered.err
    result = rendered.json()
    scene_files = [Path(s["outputs"][0]["file"]) for s in shown["scenes"]]
    expected = sum(video_frames(f) for f in scene_files)
    assert expected == 3 * 17
    assert result["frames"] == expected == video_frames(Path(result["path"]))
    assert Path(result["path"]) == home / "outputs" / "videos" / "lighthouse.mp4"
    assert cli("project", "show", "lighthouse", "--json").json()["render_path"] == result["path"]


def test_storyboard_bad_input(cli: Callable[..., Result], home: Path) -> None:
    script = home / "s.txt"
    script.write_text(SCRIPT)
    assert cli("--smoke", "storyboard", str(home / "missing.txt")).code == 2
    (home / "empty.txt").write_text("  \n")
    assert cli("--smoke", "storyboard", str(home / "empty.txt")).code == 2
    assert cli("--smoke", "storyboard", str(script), "--type", "video_fastest").code == 2
    assert cli("--smoke", "storyboard", str(script), "--name", "../escape").code == 2
    assert cli("--smoke", "storyboard", str(script), "--scenes", "0").code == 2
    assert cli("project", "show", "nope").code == 2
    images = cli("--smoke", "storyboard", str(script), "--type", "image_fast", "--name", "stills", "--json")
    assert images.code == 0
    assert cli("project", "render", "stills").code == 2
