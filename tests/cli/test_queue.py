"""`ourvidz queue`: adding (one, JSONL, CSV), priority order, list, show, cancel, retry, summary."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import jobs, spawn


def test_fast_jobs_run_before_high_ones_fifo_within(cli, home: Path) -> None:
    order = ["video_high", "image_fast", "image_high", "video_fast", "image_fast"]
    ids = []
    for i, job_type in enumerate(order):
        res = cli("--smoke", "queue", "add", job_type, f"prompt {i}", "--json")
        assert res.code == 0, res.err
        ids += res.json()["job_ids"]
    listed = cli("queue", "list", "--status", "queued", "--json").json()
    assert [j["id"] for j in listed] == list(reversed(ids))
    # A fresh process, as a user runs it: this test process has warm models from other tests.
    proc = spawn(home, "queue", "run", "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    run = json.loads(out)
    ran = [j["job_id"] for j in run["jobs"]]
    assert ran == [ids[1], ids[3], ids[4], ids[0], ids[2]]
    assert run["completed"] == 5 and run["failed"] == 0 and run["jobs_run"] == 5
    assert run["model_loads"] == 1  # one Wan model serves all five
    assert all(j["status"] == "completed" for j in jobs(home))


def test_max_jobs_and_show(cli, home: Path) -> None:
    for _ in range(3):
        cli("--smoke", "queue", "add", "image_fast", "a fox")
    res = cli("queue", "run", "--max-jobs", "2", "--json")
    assert res.json()["jobs_run"] == 2
    assert [j["status"] for j in jobs(home)] == ["completed", "completed", "queued"]
    shown = cli("jobs", "show", "1", "--json").json()
    assert shown["status"] == "completed" and len(shown["outputs"]) == 1
    assert Path(shown["outputs"][0]["path"]).is_file() and shown["config"]["steps"] == 4
    plain = cli("jobs", "show", "1")
    assert plain.code == 0 and "completed" in plain.out
    missing = cli("jobs", "show", "999")
    assert missing.code == 2 and "no job 999" in missing.err


def test_jsonl_and_csv_files(cli, home: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text(
        '{"type": "image_fast", "prompt": "one", "seed": 5}\n'
        "# a comment\n\n"
        '{"type": "sdxl_image_fast", "prompt": "two", "steps": 2, "count": 1}\n'
    )
    csv = tmp_path / "jobs.csv"
    csv.write_text('type,prompt,seed,size\nvideo_fast,"three, with a comma",9,\nimage_high,four,,32x32\n')
    assert cli("--smoke", "queue", "add", "--file", str(jsonl), "--json").json() == {"job_ids": [1, 2]}
    assert cli("--smoke", "queue", "add", "-f", str(csv)).out.split() == ["3", "4"]
    rows = jobs(home)
    assert [r["prompt"] for r in rows] == ["one", "two", "three, with a comma", "four"]
    assert rows[0]["seed"] == 5 and json.loads(rows[1]["config"])["steps"] == 2
    assert json.loads(rows[3]["config"])["width"] == 32


def test_a_bad_line_queues_nothing(cli, home: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text('{"type": "image_fast", "prompt": "ok"}\n{"type": "image_fast", "prompt": "x", "steps": -3}\n')
    res = cli("--smoke", "queue", "add", "--file", str(jsonl))
    assert res.code == 2 and "jobs.jsonl:2:" in res.err and "nothing was queued" in res.err
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    assert "not valid JSON" in cli("--smoke", "queue", "add", "--file", str(broken)).err
    assert jobs(home) == []


def test_cancel_and_retry(cli, home: Path) -> None:
    cli("--smoke", "queue", "add", "image_fast", "a")
    cli("--smoke", "queue", "add", "image_fast", "b")
    assert cli("queue", "cancel", "1", "--json").json() == {"job_id": 1, "result": "canceled"}
    assert cli("queue", "cancel", "1").code == 2
    assert cli("queue", "retry", "2").code == 2  # still queued: nothing to retry
    run = cli("queue", "run", "--json").json()
    assert [j["job_id"] for j in run["jobs"]] == [2]
    assert cli("queue", "retry", "1").code == 0
    assert [j["status"] for j in jobs(home)] == ["queued", "completed"]
    assert cli("queue", "run", "--json").json()["completed"] == 1


def test_queue_run_exits_1_when_a_job_fails(cli, home: Path, tmp_path: Path) -> None:
    model = tmp_path / "empty-model"
    model.mkdir()
    catalog = tmp_path / "c.toml"
    catalog.write_text(f'base = "default"\n[models.wan]\nrepo = false\npath = "{model}"\n')
    cli("--config", str(catalog), "queue", "add", "image_fast", "doomed", "--size", "48x80")
    cli("--smoke", "queue", "add", "image_fast", "fine")
    res = cli("queue", "run", "--json")
    assert res.code == 1
    out = res.json()
    assert (out["failed"], out["completed"]) == (1, 1)
    assert [j["status"] for j in jobs(home)] == ["failed", "completed"]


def test_job_types_table_and_json(cli, home: Path) -> None:
    table = cli("job-types")
    assert table.code == 0 and "sdxl_image_fast" in table.out and "qwen → wan" in table.out
    data = cli("job-types", "--json").json()
    assert len(data["job_types"]) == 10 and not data["smoke"]
    smoke = cli("--smoke", "job-types", "--json").json()
    assert smoke["smoke"] and {j["size"] for j in smoke["job_types"]} == {"64x64", "48x80"}


def test_list_filters_by_status_and_rejects_unknown_ones(cli, home: Path) -> None:
    cli("--smoke", "queue", "add", "image_fast", "a")
    assert cli("queue", "list", "--status", "completed", "--json").json() == []
    bad = cli("queue", "list", "--status", "done")
    assert bad.code == 2 and "not one of" in bad.err


def test_list_shows_the_newest_50_by_default_and_all_with_limit_0(cli, home: Path) -> None:
    for i in range(53):
        cli("--smoke", "queue", "add", "image_fast", f"p{i}")
    res = cli("queue", "list", "--json")
    assert [j["id"] for j in res.json()][:2] == [53, 52] and len(res.json()) == 50
    assert "newest 50 of 53" in res.err
    assert len(cli("queue", "list", "--json", "--limit", "0").json()) == 53
