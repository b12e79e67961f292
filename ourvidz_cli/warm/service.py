"""`ourvidz worker` on this machine's ledger: a runner made warm (torch imported, models preloaded)
before it says it is live, its row kept in the ledger while it runs, and a bell to wake it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from ourvidz_cli.warm.bell import Bell
from ourvidz_cli.warm.presence import LocalPresence, RecordingReporter, ThreadLedgers


class LocalWorker:
    def __init__(self, app: Any, runner: Any, settings: dict[str, Any], preload: list[str],
                 say: Callable[[str], None]) -> None:
        """`settings` are the run options a client must not contradict (device, budget, compile)."""
        self.app, self.runner, self.settings, self.preload, self.say = app, runner, settings, preload, say
        self.bell = Bell(None, None)
        self.presence: LocalPresence | None = None
        self.ledgers = ThreadLedgers(app.ledger.path)

    @property
    def id(self) -> str:
        return str(self.runner.worker.id)

    def __enter__(self) -> LocalWorker:
        self._warm()
        self.bell = Bell.open(self.app.home / "run", self.runner.worker.token)
        self.runner.wait_idle = self.bell.wait
        self.runner.reporter = RecordingReporter(self.runner.reporter, self.ledgers, self.id)
        self._register(self.app.ledger.workers)
        self.presence = LocalPresence(self.app.ledger.path, self.id, self.runner.engine.resident, self._register)
        self.presence.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.presence is not None:
            self.presence.stop()
        with contextlib.suppress(Exception):  # a full disk: the row goes stale and is then ignored
            self.app.ledger.workers.unregister(self.id)
        self.bell.close()
        self.ledgers.close()

    def _warm(self) -> None:
        """Pay the cold start now, not in the first client's wait."""
        from ourvidz_cli.engine.models.libraries import quiet

        self.settings["device"] = self.settings.get("device") or self.runner.engine.engine.device
        quiet()
        for job_type in self.preload:
            model = self.app.resolve(job_type, "preload", {}).config.model
            self.say(f"preloading {model.name} for {job_type}")
            self.runner.engine.get(model)

    def _register(self, store: Any) -> None:
        store.register(self.runner.worker, list(self.app.catalog.job_types), self.settings, self.bell.path)
