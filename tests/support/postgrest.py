"""The PostgREST side of the Supabase test server: bulk inserts and upserts into a real PostgreSQL, answered
with PostgREST's status codes and error bodies.

Statuses follow PostgREST's `pgErrorStatus` (src/PostgREST/Error.hs): 23503/23505 -> 409; other class 23
(23502 not-null, 23514 check) and 22 -> 400; 08 (connection) and 53 (resources) -> 503; 40 (rollback)
and 57014 (statement timeout) -> 500; 42 -> 400. A pool that cannot reach the database answers 503 with
PGRST001. Bulk rows whose keys differ are PGRST102 (400) unless `Prefer: missing=default` (ourvidz never
sends that). Two knobs make the database itself fail for the next requests: `state.pg_unreachable`
(the DSN points at a closed port) and `state.pg_timeouts` (a statement timeout that real PostgreSQL
raises as 57014).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
from psycopg.types.json import Jsonb


def status_for(sqlstate: str | None) -> int:
    code = sqlstate or ""
    if code in ("23503", "23505"):
        return 409
    if code == "57014" or code.startswith("40"):
        return 500
    if code.startswith(("08", "53")):
        return 503
    if code.startswith(("22", "23", "42")):
        return 400
    return 500


def _error(handler: Any, status: int, code: str, message: str, details: str | None = None,
           hint: str | None = None) -> None:
    handler._send(status, {"code": code, "details": details, "hint": hint, "message": message})


def _take_knob(state: Any, name: str) -> bool:
    with state.lock:
        left = getattr(state, name, 0)
        if left > 0:
            setattr(state, name, left - 1)
            return True
    return False


def _rows(handler: Any, table: str, body: bytes) -> list[dict[str, Any]] | None:
    rows = json.loads(body or b"[]")
    rows = rows if isinstance(rows, list) else [rows]
    keysets = {frozenset(r) for r in rows}
    if len(keysets) > 1:  # PostgREST src/PostgREST/ApiRequest/Payload.hs: all objects need the same keys
        _error(handler, 400, "PGRST102", "All object keys must match")
        return None
    return rows


def handle(handler: Any, table: str) -> None:
    body = handler._body()
    if handler.command != "POST" or table not in ("jobs", "images", "videos"):
        return _error(handler, 404, "PGRST205", f"Could not find the table 'public.{table}' in the schema cache")
    rows = _rows(handler, table, body)
    if rows is None:
        return None
    dsn = handler.state.dsn
    if _take_knob(handler.state, "pg_unreachable"):
        dsn = "postgresql://127.0.0.1:9/none?connect_timeout=1"
    try:
        with psycopg.connect(dsn) as conn:
            return _insert(handler, conn, table, rows)
    except psycopg.OperationalError as exc:
        if getattr(exc, "sqlstate", None):
            return _error(handler, status_for(exc.sqlstate), exc.sqlstate or "", str(exc).strip())
        return _error(handler, 503, "PGRST001", "Database client error. Retrying the connection.", str(exc).strip())


def _insert(handler: Any, conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    merge = "resolution=merge-duplicates" in (handler.headers.get("prefer") or "")
    conflict = parse_qs(urlparse(handler.path).query).get("on_conflict", ["id"])[0]
    columns = {r[0]: r[1] for r in conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", [table])}
    keys = sorted({k for row in rows for k in row})
    unknown = [k for k in keys if k not in columns]
    if unknown:
        return _error(handler, 400, "PGRST204",
                      f"Could not find the '{unknown[0]}' column of '{table}' in the schema cache")
    sql = f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join(['%s'] * len(keys))})"
    if merge:
        updates = ", ".join(f"{k} = EXCLUDED.{k}" for k in keys if k != conflict)
        sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    try:
        with conn.transaction():
            if _take_knob(handler.state, "pg_timeouts"):
                conn.execute("SET LOCAL statement_timeout = 50")
                conn.execute("SELECT pg_sleep(1)")
            for row in rows:
                conn.execute(sql, [Jsonb(row.get(k)) if columns[k] == "jsonb" else row.get(k) for k in keys])
    except psycopg.Error as exc:
        diag = exc.diag
        return _error(handler, status_for(diag.sqlstate), diag.sqlstate or "", diag.message_primary or str(exc),
                      diag.message_detail, diag.message_hint)
    handler._send(201, None)
