"""Reading batches of jobs from JSON Lines or CSV files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import UsageError

# Columns a job line may carry besides type and prompt; names match the command-line options.
ALIASES = {"job_type": "type", "max-attempts": "max_attempts"}


def read_jobs(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, fields) for each job; blank lines and '#' comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Excel, Notepad) is not part of the data
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read job file {path}: {exc}") from None
    rows = _read_csv(path, text) if path.suffix.lower() == ".csv" else _read_jsonl(path, text)
    if not rows:
        raise UsageError(f"job file {path} holds no jobs")
    return [(n, {ALIASES.get(k, k): v for k, v in row.items()}) for n, row in rows]


def _read_jsonl(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
        if not isinstance(obj, dict):
            raise UsageError(f"{path}:{n}: each line must be a JSON object like {{\"type\": ..., \"prompt\": ...}}")
        rows.append((n, obj))
    return rows


def _read_csv(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"type", "prompt"} <= {f.strip() for f in reader.fieldnames}:
        raise UsageError(f"{path}: the CSV header must name at least the columns type and prompt")
    rows = []
    for row in reader:
        if None in row:  # more cells than the header names: an unquoted comma split a field
            raise UsageError(f"{path}:{reader.line_num}: {len(reader.fieldnames) + len(row[None])} fields, but the "
                             f"header names {len(reader.fieldnames)}; put a prompt with commas in double quotes")
        fields = {k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")}
        if fields:
            rows.append((reader.line_num, fields))
    return rows
