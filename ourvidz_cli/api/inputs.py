"""The input options of `generate` and `queue add` (--image, --strength, --mask, --invert-mask, --fit, --video,
--first-frame, --last-frame, --ref-image):
the files are checked before anything is written, and copied into the data home only once the job itself
resolved (a bad flag writes nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def set_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options a caller set: a flag left off arrives as None or False."""
    return {k: v for k, v in options.items() if v is not None and v is not False}


class ImageOptions:
    def __init__(self, image: str | None = None, strength: str | None = None, mask: str | None = None,
                 invert_mask: bool = False, fit: str | None = None, video: str | None = None,
                 first_frame: str | None = None, last_frame: str | None = None,
                 refs: list[str] | None = None) -> None:
        from ourvidz_cli.errors import UsageError
        from ourvidz_cli.library import inputs
        from ourvidz_cli.library.video_inputs import inspect_video

        if mask is not None and image is None:
            raise UsageError("--mask needs --image: the picture whose masked part is repainted")
        self.prepared: list[inputs.Prepared] = []
        self.given: dict[str, Any] = {"strength": strength, "fit": fit, "invert_mask": invert_mask or None}
        for key, path, role in (("image", image, "--image"), ("first_frame", first_frame, "--first-frame"),
                                ("last_frame", last_frame, "--last-frame")):
            if path is not None:
                self._add(key, inputs.inspect(path, role))
        if mask is not None:
            self._add("mask", inputs.inspect(mask, "--mask", mask=True, invert=invert_mask))
        if video is not None:
            self._add("video", inspect_video(video))
        for path in refs or ():
            self.prepared.append(inputs.inspect(path, "--ref-image"))
            self.given["refs"] = [*self.given.get("refs", []), self.prepared[-1].name]

    def _add(self, key: str, prepared: Any) -> None:
        self.prepared.append(prepared)
        self.given[key] = prepared.name

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.given.items() if v is not None}

    def store(self, home: Path) -> None:
        """Into <home>/inputs/, after the job resolved and before it is written."""
        from ourvidz_cli.library import inputs

        for prepared in self.prepared:
            inputs.store(home, prepared)
