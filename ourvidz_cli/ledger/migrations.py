"""Numbered ledger migrations, applied in order and recorded by name (the pattern of simonw/llm). The list
is cheap to import (sqlite-utils only loads when one must run): the schema version is its length."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[Migration] = []
migration = MIGRATIONS.append


def _add_columns(db: sqlite_utils.Database, table: str, columns: dict[str, type]) -> None:
    for name, kind in columns.items():
        db[table].add_column(name, kind)  # type: ignore[union-attr]


@migration
def m001_jobs(db: sqlite_utils.Database) -> None:
    # The whole resolved config is stored as JSON so a job re-runs exactly after the catalog changes;
    # the columns beside it are the ones that queries filter or sort on.
    db["jobs"].create(
        {
            "id": int,
            "uuid": str,
            "type": str,
            "status": str,
            "prompt": str,
            "negative_prompt": str,
            "enhanced_prompt": str,
            "enhance_note": str,
            "seed": int,
            "config": str,
            "priority": int,
            "attempts": int,
            "max_attempts": int,
            "error": str,
            "created_at": float,
            "started_at": float,
            "finished_at": float,
            "duration_s": float,
            "load_s": float,
            "enhance_s": float,
            "worker": str,
            "worker_host": str,
            "worker_pid": int,
            "lease_expires_at": float,
            "cancel_requested": int,
        },
        pk="id",
        not_null={"uuid", "type", "status", "prompt", "seed", "config", "priority", "attempts", "max_attempts"},
        defaults={"attempts": 0, "cancel_requested": 0, "negative_prompt": ""},
    )
    # The claim query walks queued jobs in priority then age order.
    db["jobs"].create_index(["status", "priority", "created_at"], index_name="jobs_claim_order")
    db["jobs"].create_index(["uuid"], unique=True, index_name="jobs_uuid")


@migration
def m002_assets(db: sqlite_utils.Database) -> None:
    # Paths are relative to the data home so a moved --home keeps working.
    db["assets"].create(
        {
            "id": int,
            "job_id": int,
            "idx": int,
            "bucket": str,
            "path": str,
            "kind": str,
            "mime": str,
            "bytes": int,
            "sha256": str,
            "width": int,
            "height": int,
            "frames": int,
            "fps": float,
            "created_at": float,
        },
        pk="id",
        foreign_keys=[("job_id", "jobs", "id")],
        not_null={"job_id", "idx", "bucket", "path", "kind", "bytes", "sha256"},
    )
    db["assets"].create_index(["job_id", "idx"], unique=True, index_name="assets_job_idx")
    db["assets"].create_index(["bucket"], index_name="assets_bucket")


@migration
def m003_job_measures(db: sqlite_utils.Database) -> None:
    # What operators watch per job: where it ran, its peak memory (CUDA's max allocated, or the
    # process's resident memory on CPU), and how long generation itself took; rerun_of links a rerun
    # to the job it reproduces.
    _add_columns(db, "jobs", {"device": str, "peak_mem_mb": float, "mem_kind": str, "generate_s": float,
                              "rerun_of": int})


@migration
def m004_enhancements(db: sqlite_utils.Database) -> None:
    # Qwen's answers, keyed by everything that shapes them (model, target, system prompt, input,
    # budgets): a re-run or re-queued prompt costs no model load. Fallbacks are cached too, with why.
    db["enhancements"].create(
        {
            "key": str,
            "model": str,
            "target": str,
            "input": str,
            "output": str,
            "note": str,
            "trimmed": int,
            "tokens": int,
            "seconds": float,
            "created_at": float,
            "hits": int,
        },
        pk="key",
        not_null={"model", "target", "input", "output"},
        defaults={"hits": 0, "trimmed": 0},
    )
    db["jobs"].add_column("enhance_cached", int)


@migration
def m005_projects(db: sqlite_utils.Database) -> None:
    # A storyboard: the project, its characters (one fixed description each) and its scenes, each
    # scene pointing at the job that renders it.
    db["projects"].create(
        {"id": int, "name": str, "script": str, "job_type": str, "source": str, "note": str,
         "render_path": str, "created_at": float},
        pk="id",
        not_null={"name", "script", "job_type", "source", "created_at"},
    )
    db["projects"].create_index(["name"], unique=True, index_name="projects_name")
    db["characters"].create(
        {"id": int, "project_id": int, "name": str, "description": str},
        pk="id",
        foreign_keys=[("project_id", "projects", "id")],
        not_null={"project_id", "name", "description"},
    )
    db["scenes"].create(
        {"id": int, "project_id": int, "idx": int, "title": str, "shot": str, "duration_s": float,
         "characters": str, "prompt": str, "job_id": int},
        pk="id",
        foreign_keys=[("project_id", "projects", "id"), ("job_id", "jobs", "id")],
        not_null={"project_id", "idx", "title", "shot", "prompt"},
    )
    db["scenes"].create_index(["project_id", "idx"], unique=True, index_name="scenes_order")


@migration
def m006_scheduling(db: sqlite_utils.Database) -> None:
    # What the scheduler sorts on: the models a job needs (by source) and the key of its enhancement in
    # the cache, so a job whose prompt is already enhanced does not count Qwen as needed. `fallback`
    # records how a job was rescued from running out of memory.
    _add_columns(db, "jobs", {"model_key": str, "enhancer_key": str, "enhance_key": str, "fallback": str})
    db.execute("UPDATE jobs SET model_key = json_extract(config, '$.model.source'), "
               "enhancer_key = json_extract(config, '$.enhancer.source')")
    db["jobs"].create_index(["status", "enhancer_key"], index_name="jobs_enhance_pending")


@migration
def m007_sync(db: sqlite_utils.Database) -> None:
    # What was pushed to Supabase: per asset its remote path and state (a resumable upload's URL too,
    # so a killed sync resumes), per job whether its rows were written. Nothing here holds a key.
    db["sync_assets"].create(
        {"asset_id": int, "job_id": int, "remote_path": str, "status": str, "error": str, "attempts": int,
         "tus_url": str, "synced_at": float},
        pk="asset_id",
        not_null={"job_id", "remote_path", "status"},
        defaults={"attempts": 0},
    )
    db["sync_jobs"].create(
        {"job_id": int, "remote_id": str, "status": str, "error": str, "synced_at": float},
        pk="job_id",
        not_null={"remote_id", "status"},
    )


@migration
def m008_remote(db: sqlite_utils.Database) -> None:
    # A job taken from a remote queue (Redis) is kept here too, so the library commands see it; `origin`
    # names that queue (never with credentials) and keeps such rows out of local claims, `origin_meta`
    # holds the item's fields this tool does not use (the seed's backend may send more than we know).
    _add_columns(db, "jobs", {"origin": str, "origin_meta": str})


@migration
def m009_workers(db: sqlite_utils.Database) -> None:
    # Warm workers on this ledger (`ourvidz worker`): who is alive, what each serves and holds, and the
    # progress of its job, which a `generate` that handed the job over reads to show its bar. `bell` is
    # the worker's wake-up socket. Nothing else keeps a worker row: it is deleted when the worker stops.
    db["workers"].create(
        {"id": str, "host": str, "pid": int, "started_at": float, "beat_at": float, "bell": str, "serves": str,
         "settings": str, "resident": str, "job_id": int, "phase": str, "phase_seq": int, "step": int,
         "steps": int},
        pk="id",
        defaults={"phase_seq": 0},
    )


@migration
def m010_reuse(db: sqlite_utils.Database) -> None:
    # `fingerprint` hashes everything that decides a job's pixels (set only when its seed was fixed);
    # a repeat of a completed request is answered from that job's outputs and records it in `reused_from`.
    _add_columns(db, "jobs", {"fingerprint": str, "reused_from": int})
    db["jobs"].create_index(["fingerprint"], index_name="jobs_fingerprint")


# The project and scene names a job renders, for its search row.
_SCENE_NAMES = ("coalesce((SELECT group_concat(p.name || ' ' || s.title, ' ') FROM scenes s "
                "JOIN projects p ON p.id = s.project_id WHERE s.job_id = {job}), '')")


@migration
def m011_search(db: sqlite_utils.Database) -> None:
    # Full-text search over what a person remembers of a job: its prompt, Qwen's rewrite, the negative
    # prompt, and the project and scene it renders. Triggers keep the index in step with every write,
    # so no code path can forget it; existing ledgers are indexed here.
    db.execute("CREATE VIRTUAL TABLE job_search USING fts5(prompt, enhanced_prompt, negative_prompt, names, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("INSERT INTO job_search (rowid, prompt, enhanced_prompt, negative_prompt, names) SELECT id, prompt, "
               f"coalesce(enhanced_prompt, ''), coalesce(negative_prompt, ''), {_SCENE_NAMES.format(job='jobs.id')} "
               "FROM jobs")
    db.execute("CREATE TRIGGER job_search_insert AFTER INSERT ON jobs BEGIN "
               "INSERT INTO job_search (rowid, prompt, enhanced_prompt, negative_prompt, names) VALUES (new.id, "
               "new.prompt, coalesce(new.enhanced_prompt, ''), coalesce(new.negative_prompt, ''), ''); END")
    db.execute("CREATE TRIGGER job_search_update AFTER UPDATE OF prompt, enhanced_prompt, negative_prompt ON jobs "
               "BEGIN UPDATE job_search SET prompt = new.prompt, enhanced_prompt = coalesce(new.enhanced_prompt, ''), "
               "negative_prompt = coalesce(new.negative_prompt, '') WHERE rowid = new.id; END")
    db.execute("CREATE TRIGGER job_search_delete AFTER DELETE ON jobs BEGIN "
               "DELETE FROM job_search WHERE rowid = old.id; END")
    names = f"UPDATE job_search SET names = {_SCENE_NAMES.format(job='new.job_id')} WHERE rowid = new.job_id;"
    db.execute(f"CREATE TRIGGER job_search_scene AFTER INSERT ON scenes BEGIN {names} END")
    old = f"UPDATE job_search SET names = {_SCENE_NAMES.format(job='old.job_id')} WHERE rowid = old.job_id;"
    db.execute(f"CREATE TRIGGER job_search_scene_update AFTER UPDATE OF job_id, title ON scenes "
               f"BEGIN {old} {names} END")
    db.execute("CREATE TRIGGER job_search_project AFTER UPDATE OF name ON projects BEGIN "
               f"UPDATE job_search SET names = {_SCENE_NAMES.format(job='job_search.rowid')} WHERE rowid IN "
               "(SELECT job_id FROM scenes WHERE project_id = new.id); END")


@migration
def m012_pairs(db: sqlite_utils.Database) -> None:
    # An A/B pair (--ab): the job that renders the raw prompt points at the enhanced job it is compared with.
    _add_columns(db, "jobs", {"pair_of": int})
    db["jobs"].create_index(["pair_of"], index_name="jobs_pair_of")


@migration
def m013_loads_and_revisions(db: sqlite_utils.Database) -> None:
    # model_load_s: the seconds this job spent loading its own model (0 when it was warm), apart from an
    # enhancer's load, so estimates know a load when they see one. revisions: the commit each Hugging Face
    # source resolved to when the job loaded it ({source: sha}), which `rerun` loads again.
    _add_columns(db, "jobs", {"model_load_s": float, "revisions": str})


@migration
def m014_handed_to(db: sqlite_utils.Database) -> None:
    # A job `generate` handed to one warm worker: only that worker claims it (its settings are the ones
    # the caller asked for), unless that worker stopped beating; the client may always take it back.
    _add_columns(db, "jobs", {"assigned_to": str})


@migration
def m015_grids(db: sqlite_utils.Database) -> None:
    # A grid (`ourvidz grid`): its axes and which job each cell is, and the contact sheets made of them.
    db["grids"].create({"id": int, "created_at": float, "job_type": str, "prompt": str, "definition": str,
                        "sheets": str}, pk="id")


@migration
def m016_search_templates(db: sqlite_utils.Database) -> None:
    # A wildcard prompt's template goes into its search row's `names` (such a job renders no project scene).
    db.execute("DROP TRIGGER job_search_insert")
    db.execute("CREATE TRIGGER job_search_insert AFTER INSERT ON jobs BEGIN INSERT INTO job_search (rowid, prompt, "
               "enhanced_prompt, negative_prompt, names) VALUES (new.id, new.prompt, coalesce(new.enhanced_prompt, "
               "''), coalesce(new.negative_prompt, ''), coalesce(json_extract(new.config, '$.template'), '')); END")


def apply(conn: Any) -> list[str]:
    """Apply every migration not yet recorded on a sqlite3 connection; the caller holds the write lock."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    if "_migrations" not in db.table_names():
        db["_migrations"].create({"name": str, "applied_at": float}, pk="name")
    done = {row["name"] for row in db["_migrations"].rows}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ not in done:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [fn.__name__, time.time()])
            applied.append(fn.__name__)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return applied
