"""Storyboard projects: the project, its characters, its scenes and the job that renders each scene."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ourvidz_cli.errors import NotFound, UsageError
from ourvidz_cli.ledger.assets import AssetStore
from ourvidz_cli.ledger.db import Database
from ourvidz_cli.ledger.jobs import job_row
from ourvidz_cli.queue import QUEUED

if TYPE_CHECKING:
    from ourvidz_cli.catalog.resolve import JobSpec


class ProjectStore:
    def __init__(self, db: Database, assets: AssetStore) -> None:
        self.db, self.assets = db, assets

    def exists(self, name: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone() is not None

    def add(self, name: str, script: str, job_type: str, source: str, note: str | None,
            characters: Sequence[tuple[str, str]], scenes: Sequence[tuple[dict[str, Any], JobSpec]]) -> int:
        """The project, its characters, its scenes and one queued job per scene: all or nothing."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM projects WHERE name = ?", [name]).fetchone():
                raise UsageError(f"a project named '{name}' exists; pick another --name")
            project_id = self.db.insert(conn, "projects", {
                "name": name, "script": script, "job_type": job_type, "source": source, "note": note,
                "created_at": time.time()})
            for char_name, description in characters:
                self.db.insert(conn, "characters", {"project_id": project_id, "name": char_name,
                                                    "description": description})
            for idx, (scene, spec) in enumerate(scenes):
                job_id = self.db.insert(conn, "jobs", job_row(spec, QUEUED, {}))
                self.db.insert(conn, "scenes", {
                    "project_id": project_id, "idx": idx, "title": scene["title"], "shot": scene["shot"],
                    "duration_s": scene["duration_s"], "characters": json.dumps(scene["characters"]),
                    "prompt": spec.prompt, "job_id": job_id})
        return project_id

    def get(self, name: str) -> dict[str, Any]:
        conn = self.db.conn
        row = conn.execute("SELECT * FROM projects WHERE name = ?", [name]).fetchone()
        if row is None:
            names = [r[0] for r in conn.execute("SELECT name FROM projects ORDER BY id")]
            known = f"; projects: {', '.join(names)}" if names else "; make one with 'ourvidz storyboard SCRIPT'"
            raise NotFound(f"no project '{name}'{known}")
        project = dict(row)
        project["characters"] = [dict(r) for r in conn.execute(
            "SELECT name, description FROM characters WHERE project_id = ? ORDER BY id", [project["id"]])]
        scenes = []
        for r in conn.execute(
            "SELECT s.*, j.status, j.error, j.enhanced_prompt FROM scenes s LEFT JOIN jobs j ON j.id = s.job_id "
            "WHERE s.project_id = ? ORDER BY s.idx", [project["id"]]
        ):
            scene = dict(r)
            scene["characters"] = json.loads(scene["characters"] or "[]")
            scene["outputs"] = self.assets.for_job(scene["job_id"]) if scene["job_id"] else []
            scenes.append(scene)
        project["scenes"] = scenes
        return project

    def set_render(self, project_id: int, path: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE projects SET render_path = ? WHERE id = ?", [path, project_id])
