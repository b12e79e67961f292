"""Images a job takes in (`--image`, `--mask`): checked before anything is written, copied once into the
data home under their content's sha256 (`inputs/<sha256>.<ext>`), and read back from there by the job, by
`rerun` (the original may be gone) and by bundles.

A file is refused with one line (exit 2) when it is missing, a folder, not an image, truncated, over the
pixel cap (checked from its header, before anything is decoded), or, for a mask, has nothing to repaint.
Palette, CMYK, 16-bit, alpha and EXIF-rotated images become what a user expects (orientation applied,
alpha flattened onto black) and the job log says so. How an image of another shape meets the job's size
is `fit`: letterbox (on black, as the real OurVidz worker does), crop, or stretch.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import UsageError

MAX_PIXELS = 8192 * 8192
FITS = ("letterbox", "crop", "stretch")
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp", "GIF": "gif", "TIFF": "tif", "MPO": "jpg"}


@dataclass(frozen=True)
class Prepared:
    """A checked input, not yet stored: its bytes, sha256 and the extension of its real format."""

    data: bytes
    sha256: str
    ext: str

    @property
    def name(self) -> str:
        """Where it lives in the data home, as the job's config records it."""
        return f"inputs/{self.sha256}.{self.ext}"


def local_file(given: str, role: str, kind: str = "image") -> Path:
    """The file an input option names: not a URL, there, not a folder; UsageError (exit 2) otherwise."""
    if URL.match(given):
        raise UsageError(f"{role} {given[:80]}: a URL; download the {kind} and give its path")
    path = Path(given).expanduser()
    if not path.exists():
        raise UsageError(f"{role} {path}: no such file; check the path")
    if path.is_dir():
        raise UsageError(f"{role} {path}: a folder, not {'an' if kind[0] in 'aeiou' else 'a'} {kind} file")
    return path


def inspect(given: str, role: str = "--image", mask: bool = False, invert: bool = False) -> Prepared:
    """Check an input file without writing anything; UsageError (exit 2) with what to do."""
    path = local_file(given, role)
    return prepare_bytes(path.read_bytes(), f"{role} {path}", mask, invert)


def prepare_bytes(data: bytes, what: str, mask: bool = False, invert: bool = False) -> Prepared:
    """Bytes from a file or a download, checked as an image (and as a mask)."""
    image = _decode(data, what)
    if mask and not _repaints(image, invert):
        side = "white" if not invert else "black (with --invert-mask)"
        raise UsageError(f"{what}: nothing to repaint (no {side} pixels); paint the area to change in white")
    return Prepared(data, hashlib.sha256(data).hexdigest(), _EXT.get(image.format or "", "png"))


def _decode(data: bytes, what: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise UsageError(f"{what}: {image.width}x{image.height} is over the {MAX_PIXELS:,}-pixel cap; "
                                 "scale it down first")
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UsageError(f"{what}: not an image ourvidz can read ({type(exc).__name__}); give a PNG, JPEG or "
                         "WebP") from None
    except OSError as exc:
        raise UsageError(f"{what}: a damaged or truncated image ({exc}); export it again") from None
    return image


def _conversions(image: Any) -> list[str]:
    """What `load` changes to make the image the pipeline's RGB (said in the job's log)."""
    notes = []
    if image.getexif().get(0x0112, 1) not in (1, None):
        notes.append("EXIF orientation applied")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        notes.append("alpha flattened onto black")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        notes.append(f"{image.mode} converted to RGB")
    return notes


def _repaints(image: Any, invert: bool) -> bool:
    gray = _upright(image).convert("L")
    lo, hi = gray.getextrema()
    return lo < 128 if invert else hi >= 128


def store(home: Path, prepared: Prepared) -> str:
    """Copied once into the data home (atomically); returns the name the job records."""
    dest = home / prepared.name
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".partial-{os.getpid()}-{dest.name}")
        tmp.write_bytes(prepared.data)
        os.replace(tmp, dest)
    return prepared.name


def _upright(image: Any) -> Any:
    from PIL import ImageOps

    return ImageOps.exif_transpose(image) or image


def load(home: Path, name: str, width: int, height: int, fit: str, mask: bool = False, invert: bool = False) -> Any:
    """The stored input as the pipeline takes it: upright, RGB (a mask: L, white repaints), fit to size."""
    from PIL import Image, ImageOps

    path = home / name
    if not path.is_file():
        raise UsageError(f"the job's input {path} is gone from the data home; it cannot run without it")
    with Image.open(path) as opened:
        for note in _conversions(opened):  # the runner records warnings in the job's log
            warnings.warn(f"input {name}: {note}", stacklevel=2)
        image = _upright(opened)
        image.load()
    if mask:
        image = image.convert("L")
        image = ImageOps.invert(image) if invert else image
    else:
        image = _flat_rgb(image)
    return fit_to(image, width, height, fit)


def picture(home: Path, name: str) -> Any:
    """A stored input upright and RGB at its own size (VACE fits subject references itself)."""
    from PIL import Image

    with Image.open(home / name) as opened:
        image = _upright(opened)
        image.load()
    return _flat_rgb(image)


def _flat_rgb(image: Any) -> Any:
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def fit_to(image: Any, width: int, height: int, fit: str) -> Any:
    """letterbox: whole image, black bars; crop: fill, centre cut; stretch: resized to the size."""
    from PIL import Image, ImageOps

    if image.size == (width, height):
        return image
    if fit == "stretch":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    if fit == "crop":
        return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    inner = ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    canvas = Image.new(image.mode, (width, height), 0)
    canvas.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return canvas
