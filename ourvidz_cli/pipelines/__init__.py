"""In-process model pipelines. Importing this package imports torch: only the runner does.

A model's `kind` in models.toml names its family module here; the table below is the only place
that maps kinds to code.
"""

from __future__ import annotations

import os

# Quiet the libraries' own progress bars and advice before they are imported: ours go to stderr.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FAMILIES = {
    "sdxl": "ourvidz_cli.pipelines.sdxl",
    "wan": "ourvidz_cli.pipelines.wan",
    "qwen": "ourvidz_cli.pipelines.qwen",
}
