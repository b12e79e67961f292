"""The PostgREST side of the Supabase test server: reads and writes on a real PostgreSQL holding the seed's
tables, answered with PostgREST's statuses, headers and error bodies.

- Writes go through `json_populate_recordset` as PostgREST's own queries do (src/PostgREST/Query/
  QueryBuilder.hs): POST inserts (`Prefer: resolution=merge-duplicates` or `ignore-duplicates` with
  `on_conflict` make it an upsert), PATCH updates and DELETE deletes the rows the filters select.
  `Prefer: return=representation` answers with the rows (201 for POST, 200 otherwise), else 201/204
  with no body. A `columns` parameter names the columns to write; without it all rows must have the
  same keys (PGRST102, src/PostgREST/ApiRequest/Payload.hs).
- GET reads: `select=` a column list or `*`, filters `col=op.value` (eq, neq, gt, gte, lt, lte, like,
  ilike, is, in, each negatable with `not.`), `order=col.asc|desc`, `limit`, `offset`.
- Statuses follow `pgErrorStatus` (src/PostgREST/Error.hs): 23503/23505 -> 409; other class 23 (23502
  not-null, 23514 check) and 22 -> 400; 08 (connection) and 53 (resources) -> 503; 40 (rollback) and
  57014 (statement timeout) -> 500; 42 -> 400. A pool that cannot reach the database answers 503 with
  PGRST001. Two knobs make the database itself fail for the next requests: `state.pg_unreachable` (the
  DSN points at a closed port) and `state.pg_timeouts` (a statement timeout, 57014).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlparse

import psycopg
from psycopg import sql

TABLES = ("jobs", "images", "videos")
RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE",
             "ilike": "ILIKE"}


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.details, self.hint = status, code, details, hint


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


class Request:
    """One PostgREST call: table, its columns, query parameters, Prefer, body."""

    def __init__(self, handler: Any, conn: Any, table: str, body: bytes) -> None:
        self.handler, self.conn, self.table, self.body = handler, conn, table, body
        self.params = parse_qsl(urlparse(handler.path).query, keep_blank_values=True)
        self.prefer = handler.headers.get("prefer") or ""
        self.columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table])]

    def param(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.params if k == name), default)

    def column(self, name: str) -> sql.Identifier:
        if name not in self.columns:
            raise Refusal(400, "42703", f"column {self.table}.{name} does not exist")
        return sql.Identifier(name)

    def representation(self) -> bool:
        return "return=representation" in self.prefer


def _condition(req: Request, name: str, raw: str) -> tuple[sql.Composable, list[Any]]:
    negate = raw.startswith("not.")
    op, _, value = raw.removeprefix("not.").partition(".")
    col = req.column(name)
    if op == "is" and value in ("null", "true", "false"):
        cond: sql.Composable = sql.SQL("{} IS {}").format(col, sql.SQL(value.upper()))
        args: list[Any] = []
    elif op == "in" and value.startswith("(") and value.endswith(")"):
        items = [v.strip().strip('"') for v in value[1:-1].split(",") if v.strip()]
        cond = sql.SQL("{} IN ({})").format(col, sql.SQL(", ").join(sql.Placeholder() * len(items)))
        args = items
    elif op in OPERATORS:
        cond = sql.SQL("{} {} %s").format(col, sql.SQL(OPERATORS[op]))
        args = [value.replace("*", "%") if op in ("like", "ilike") else value]
    else:
        raise Refusal(400, "PGRST100", f'"failed to parse filter ({raw})" (line 1, column 1)')
    return (sql.SQL("NOT ({})").format(cond) if negate else cond), args


def _where(req: Request) -> tuple[sql.Composable, list[Any]]:
    parts, args = [], []
    for name, raw in req.params:
        if name not in RESERVED:
            cond, more = _condition(req, name, raw)
            parts.append(cond)
            args += more
    if not parts:
        return sql.SQL(""), []
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), args


def _payload(req: Request) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and the columns to write (the `columns` parameter, else the rows' common keys)."""
    try:
        rows = json.loads(req.body or b"[]")
    except ValueError as exc:
        raise Refusal(400, "PGRST102", "Empty or invalid json", str(exc)) from None
    rows = rows if isinstance(rows, list) else [rows]
    named = req.param("columns")
    if named:
        return rows, [c.strip().strip('"') for c in named.split(",")]
    keysets = {frozenset(r) for r in rows}
    if len(keysets) > 1:
        raise Refusal(400, "PGRST102", "All object keys must match")
    keys = sorted(next(iter(keysets), frozenset()))
    unknown = [k for k in keys if k not in req.columns]
    if unknown:
        raise Refusal(400, "PGRST204", f"Could not find the '{unknown[0]}' column of '{req.table}' in the schema cache")
    return rows, keys


def _insert(req: Request) -> sql.Composable:
    rows, keys = _payload(req)
    cols = sql.SQL(", ").join(req.column(k) for k in keys)
    query = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM json_populate_recordset(NULL::{t}, {body}::json)").format(
        t=sql.Identifier(req.table), c=cols, body=sql.Literal(json.dumps(rows)))
    if "resolution=" in req.prefer:
        conflict = req.param("on_conflict") or "id"
        target = req.column(conflict)
        updates = [sql.SQL("{0} = EXCLUDED.{0}").format(req.column(k)) for k in keys if k != conflict]
        if "resolution=ignore-duplicates" in req.prefer or not updates:
            query += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
        else:
            query += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(target, sql.SQL(", ").join(updates))
    return query


def _update(req: Request) -> tuple[sql.Composable, list[Any]]:
    rows, keys = _payload(req)
    where, args = _where(req)
    cols = sql.SQL(", ").join(req.column(k) for k in keys)
    query = sql.SQL("UPDATE {t} SET ({c}) = (SELECT {c} FROM json_populate_record(NULL::{t}, {body}::json))").format(
        t=sql.Identifier(req.table), c=cols, body=sql.Literal(json.dumps(rows[0] if rows else {})))
    return query + where, args


def _select(req: Request) -> tuple[sql.Composable, list[Any]]:
    wanted = req.param("select", "*") or "*"
    cols = sql.SQL("*") if wanted == "*" else sql.SQL(", ").join(req.column(c.strip()) for c in wanted.split(","))
    where, args = _where(req)
    query = sql.SQL("SELECT {} FROM {}").format(cols, sql.Identifier(req.table)) + where
    order = req.param("order")
    if order:
        terms = [c.split(".") for c in order.split(",")]
        query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(
            sql.SQL("{} {}").format(req.column(t[0]), sql.SQL("DESC" if "desc" in t[1:] else "ASC")) for t in terms)
    for word in ("limit", "offset"):
        value = req.param(word)
        if value is not None:
            if not value.isdigit():
                raise Refusal(400, "PGRST100", f'"failed to parse {word} ({value})"')
            query += sql.SQL(f" {word.upper()} {int(value)}")
    return query, args


def _run(req: Request) -> tuple[int, str | None, int]:
    """(status, the rows as JSON when they are to be sent, how many rows)."""
    command = req.handler.command
    if command in ("GET", "HEAD"):
        query, args = _select(req)
    elif command == "POST":
        query, args = _insert(req) + sql.SQL(" RETURNING *"), []
    elif command == "PATCH":
        query, args = _update(req)
        query += sql.SQL(" RETURNING *")
    elif command == "DELETE":
        where, args = _where(req)
        query = sql.SQL("DELETE FROM {}").format(sql.Identifier(req.table)) + where + sql.SQL(" RETURNING *")
    else:
        raise Refusal(405, "PGRST117", f"Unsupported HTTP method: {command}")
    wrapped = sql.SQL("WITH pgrst_source AS ({}) SELECT coalesce(json_agg(pgrst_source), '[]')::text, "
                      "count(*) FROM pgrst_source").format(query)
    with req.conn.transaction():
        if _take_knob(req.handler.state, "pg_timeouts"):
            req.conn.execute("SET LOCAL statement_timeout = 50")
            req.conn.execute("SELECT pg_sleep(1)")
        body, count = req.conn.execute(wrapped, args).fetchone()
    if command in ("GET", "HEAD"):
        return 200, body, count
    if req.representation():
        return (201 if command == "POST" else 200), body, count
    return (201 if command == "POST" else 204), None, count


def handle(handler: Any, table: str) -> None:
    body = handler._body()
    if table not in TABLES:
        return _error(handler, 404, "PGRST205", f"Could not find the table 'public.{table}' in the schema cache")
    dsn = handler.state.dsn
    if _take_knob(handler.state, "pg_unreachable"):
        dsn = "postgresql://127.0.0.1:9/none?connect_timeout=1"
    try:
        with psycopg.connect(dsn) as conn:
            status, rows, count = _run(Request(handler, conn, table, body))
    except Refusal as r:
        return _error(handler, r.status, r.code, str(r), r.details, r.hint)
    except psycopg.OperationalError as exc:
        if getattr(exc, "sqlstate", None):
            return _error(handler, status_for(exc.sqlstate), exc.sqlstate or "", str(exc).strip())
        return _error(handler, 503, "PGRST001", "Database client error. Retrying the connection.", str(exc).strip())
    except psycopg.Error as exc:
        diag = exc.diag
        return _error(handler, status_for(diag.sqlstate), diag.sqlstate or "", diag.message_primary or str(exc),
                      diag.message_detail, diag.message_hint)
    span = f"0-{count - 1}/*" if count else "*/*"
    handler._send(status, rows.encode() if rows is not None else None,
                  {"Content-Range": span, **({"Content-Type": "application/json"} if rows is not None else {})})
