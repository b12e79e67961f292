"""The image options of `generate` and `queue add` (--image, --strength, --mask, --invert-mask, --fit):
the files are checked before anything is written, and copied into the data home only once the job itself
resolved (a bad flag writes nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ImageOptions:
    def __init__(self, image: str | None, strength: str | None, mask: str | None, invert_mask: bool,
                 fit: str | None) -> None:
        from ourvidz_cli.errors import UsageError
        from ourvidz_cli.library import inputs

        if mask is not None and image is None:
            raise UsageError("--mask needs --image: the picture whose masked part is repainted")
        self.prepared = [inputs.inspect(image)] if image is not None else []
        if mask is not None:
            self.prepared.append(inputs.inspect(mask, "--mask", mask=True, invert=invert_mask))
        self.given = {"strength": strength, "fit": fit, "invert_mask": invert_mask or None}
        if image is not None:
            self.given["image"] = self.prepared[0].name
        if mask is not None:
            self.given["mask"] = self.prepared[1].name

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.given.items() if v is not None}

    def store(self, home: Path) -> None:
        """Into <home>/inputs/, after the job resolved and before it is written."""
        from ourvidz_cli.library import inputs

        for prepared in self.prepared:
            inputs.store(home, prepared)
