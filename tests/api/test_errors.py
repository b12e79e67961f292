"""The API's typed errors for the two ways a run stops rather than fails (issue 29): a full disk (a real
3 MB tmpfs, as tests/cli/test_disk_full.py) and an interrupt. Never SystemExit, never a bare traceback
type the caller cannot tell apart; the job is back in the queue either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from ourvidz_cli import DiskFull, Interrupted, OurvidzError, Step, Studio
from tests.cli.test_disk_full import _fill, tiny_disk  # noqa: F401  (the fixture, used by name)


def test_a_full_disk_is_disk_full(tiny_disk: Path, smoke_root: Path) -> None:  # noqa: F811
    home = tiny_disk / "home"
    home.mkdir()
    (home / "smoke").symlink_to(smoke_root, target_is_directory=True)
    with Studio(home=home, smoke=True) as studio:
        studio.generate("sdxl_image_fast", "kept", count=1, steps=1, use_worker=False)
        _fill(tiny_disk, 48)
        with pytest.raises(DiskFull) as full:
            studio.generate("sdxl_image_fast", "six", count=6, steps=1, use_worker=False)
        statuses = [j["status"] for j in studio.jobs.list()]
    assert isinstance(full.value, OurvidzError) and "free" in str(full.value)
    # Nothing half-written. The job is released if the full ledger still takes that write; if not, it stays
    # running until its lease lapses and the next run reaps it (as after the CLI's exit).
    assert statuses[0] in ("queued", "running") and statuses[1] == "completed"
    assert sorted(p.name for p in (home / "outputs" / "sdxl_image_fast").iterdir()) == ["1_0.png"]


def test_an_interrupt_is_interrupted_and_the_job_goes_back(home: Path) -> None:
    def stop_at_the_first_step(event: object) -> None:
        if isinstance(event, Step):
            raise KeyboardInterrupt

    with Studio(home=home, smoke=True) as studio:
        with pytest.raises(Interrupted, match="back in the queue"):
            studio.generate("sdxl_image_fast", "x", steps=2, count=1, use_worker=False,
                            on_progress=stop_at_the_first_step)
        studio.queue.add("sdxl_image_fast", "y", steps=2, count=1)
        with pytest.raises(Interrupted):
            studio.queue.run(on_progress=stop_at_the_first_step)
        assert [j["status"] for j in studio.jobs.list()] == ["queued", "queued"]
