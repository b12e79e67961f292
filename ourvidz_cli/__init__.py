"""ourvidz: a local image and video generation studio with a SQLite job ledger."""

__version__ = "0.1.0"
