"""One lazy handle on the shared model engine: torch is imported only when a model must load.

The runner, `ourvidz enhance` and storyboards all reach models through it, and it counts the loads
and evictions its own caller caused (the engine may be shared and already warm).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ourvidz_cli.catalog.job import JobConfig, ModelRef


class EngineHandle:
    def __init__(self, device: str | None = None, vram_budget: str | None = None, compile_: bool = False,
                 on_start: Callable[[str], None] = lambda _: None) -> None:
        self.device_choice, self.vram_budget, self.compile = device, vram_budget, compile_
        self.on_start = on_start
        self._engine: Any = None
        self._loads0 = self._evictions0 = 0

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self.on_start("starting torch")
            from ourvidz_cli.engine.models.manager import shared_engine

            self._engine = shared_engine(self.device_choice, self.vram_budget)
            self._engine.compile = self.compile
            self._loads0, self._evictions0 = self._engine.loads, self._engine.evictions
        return self._engine

    def get(self, model: ModelRef, beside: tuple[ModelRef, ...] = ()) -> tuple[Any, float]:
        """The loaded model and the seconds its load took now (0 when it was warm)."""
        loaded: tuple[Any, float] = self.engine.get(model, beside)
        return loaded

    def job_models(self, config: JobConfig) -> tuple[Any, Any, float]:
        """A job's pipeline, the VACE transformer it runs beside it when it has reference frames (loaded on
        its own: the Wan model's encoder and VAE serve both), and the seconds their loads took now."""
        pipe, seconds = self.get(config.model)
        if config.vace is None:
            return pipe, None, seconds
        companion, more = self.get(config.vace, beside=(config.model,))
        return pipe, companion, seconds + more

    def family(self, kind: str) -> Any:
        from ourvidz_cli.engine.families.registry import family

        return family(kind)

    def resident(self) -> list[str]:
        return self._engine.resident_sources() if self._engine is not None else []

    @property
    def loads(self) -> int:
        return 0 if self._engine is None else self._engine.loads - self._loads0

    @property
    def evictions(self) -> int:
        return 0 if self._engine is None else self._engine.evictions - self._evictions0
