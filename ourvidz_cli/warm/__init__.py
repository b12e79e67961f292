"""Warm workers on this machine's ledger and the hand-off to them.

`ourvidz worker` (no `--queue`) keeps torch imported and models loaded between commands: it records
itself in the ledger (`service.py`, `presence.py`), sleeps on a wake-up socket (`bell.py`), and runs
the jobs `generate` hands it (`handoff.py`), which waits for the result and replays the progress.
"""
