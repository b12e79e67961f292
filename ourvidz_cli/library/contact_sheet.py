"""A grid's contact sheet: one PNG per z value, each cell a thumbnail of its job's output (an SDXL batch as
its first image, or as a 2x3 block; a video as its middle frame), row and column labels drawn with Pillow,
the prompt as the title; for video grids also an MP4 that tiles the clips, so motion compares side by side.
The PNG carries the grid's definition and every cell's box in its `ourvidz-grid` text chunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GAP, PAD, BACKGROUND, INK = 4, 8, (255, 255, 255), (20, 20, 20)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        return ImageFont.load_default()


def _text_size(font: Any, text: str) -> tuple[int, int]:
    from PIL import Image, ImageDraw

    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def fit(image: Any, cell: int) -> Any:
    """The picture inside a cell x cell box, aspect kept (a picture that already fits is used as it is)."""
    from PIL import ImageOps

    return image if max(image.size) == cell else ImageOps.contain(image, (cell, cell))


def layout(definition: dict[str, Any], cell: int) -> dict[str, Any]:
    """Where everything goes: sheet size, the title, each label's box, each cell's box (by x, y)."""
    axes, font = definition["axes"], _font(max(10, cell // 12))
    xs, ys = axes["x"]["values"], (axes.get("y") or {"values": [""]})["values"]
    line = _text_size(font, "Ag")[1] + PAD
    left = PAD + max(_text_size(font, f"{axes['y']['name']}: {v}")[0] for v in ys) + PAD if axes.get("y") else PAD
    top = PAD + 2 * line
    width = left + len(xs) * (cell + GAP) + PAD
    height = top + len(ys) * (cell + GAP) + PAD
    width, height = width + width % 2, height + height % 2  # H.264 in yuv420p takes even sides only
    cells = {f"{i},{j}": [left + i * (cell + GAP), top + j * (cell + GAP), left + i * (cell + GAP) + cell,
                          top + j * (cell + GAP) + cell] for i in range(len(xs)) for j in range(len(ys))}
    xlabels = [[left + i * (cell + GAP), PAD + line, left + i * (cell + GAP) + cell, top - 2] for i in range(len(xs))]
    ylabels = [[PAD, top + j * (cell + GAP), left - PAD, top + j * (cell + GAP) + cell] for j in range(len(ys))]
    return {"size": [width, height], "cells": cells, "x_labels": xlabels, "y_labels": ylabels,
            "title": [PAD, PAD, width - PAD, PAD + line], "font_px": max(10, cell // 12)}


def base(definition: dict[str, Any], lay: dict[str, Any], z_label: str) -> Any:
    """The sheet without its pictures: background, title and labels."""
    from PIL import Image, ImageDraw

    axes, font = definition["axes"], _font(lay["font_px"])
    sheet = Image.new("RGB", tuple(lay["size"]), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title = f"{definition['prompt']}  ({definition['type']}{', ' + z_label if z_label else ''})"
    draw.text(tuple(lay["title"][:2]), title[:200], fill=INK, font=font)
    for box, value in zip(lay["x_labels"], axes["x"]["values"], strict=True):
        draw.text((box[0], box[1]), f"{axes['x']['name']}: {value}", fill=INK, font=font)
    for box, value in zip(lay["y_labels"], (axes.get("y") or {"values": []})["values"], strict=False):
        draw.text((box[0], box[1] + 2), f"{axes['y']['name']}: {value}", fill=INK, font=font)
    return sheet


def still(files: list[Path], cell: int, block: bool) -> Any:
    """A cell's picture: the first image, a 2x3 block of six, or a video's middle frame."""
    from PIL import Image

    if files and files[0].suffix == ".mp4":
        frames = video_frames(files[0])
        return fit(Image.fromarray(frames[len(frames) // 2]), cell)
    images = [Image.open(f).convert("RGB") for f in files]
    if not block or len(images) < 2:
        return fit(images[0], cell)
    cols, rows = 3, (len(images) + 2) // 3
    w, h = images[0].size
    tile = Image.new("RGB", (cols * w, rows * h), BACKGROUND)
    for k, image in enumerate(images):
        tile.paste(image, ((k % cols) * w, (k // cols) * h))
    return fit(tile, cell)


def video_frames(path: Path) -> list[Any]:
    import imageio_ffmpeg
    import numpy as np

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    w, h = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


def png_chunk(definition: dict[str, Any], lay: dict[str, Any], z: int) -> dict[str, str]:
    return {"ourvidz-grid": json.dumps({**definition, "z_index": z, "layout": lay}, sort_keys=True)}
