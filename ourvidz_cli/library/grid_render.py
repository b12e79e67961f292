"""Composing a grid's contact sheets once its cells' jobs are done (library.contact_sheet draws them):
`outputs/grids/<grid>_<z>.png`, and `.mp4` for a video grid; the paths go into the grid's row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ourvidz_cli.errors import OurvidzError

Fetch = Callable[[str], "list[Path] | None"]


def cell_files(ledger: Any, home: Path, job_id: int) -> list[Path]:
    """A cell job's output files (a repeat answered by skip repeats: its original's)."""
    assets = ledger.assets.for_job(job_id)
    if assets:
        return [home / a["path"] for a in assets]
    reused_from = ledger.jobs.get(job_id).get("reused_from")
    return cell_files(ledger, home, reused_from) if reused_from else []


def _files(ledger: Any, home: Path, definition: dict[str, Any], fetch: Fetch | None) -> dict[int, list[Path] | None]:
    """Each cell's output files (by its index), None while it is not done. A cell on the shared queue is
    read back with `fetch` (remote.grid_cells)."""
    out: dict[int, list[Path] | None] = {}
    status = ledger.jobs.statuses([c["job_id"] for c in definition["cells"] if "job_id" in c])
    for k, c in enumerate(definition["cells"]):
        if "remote_id" in c:
            if fetch is None:
                raise OurvidzError(f"the grid's cells ran on the shared queue {definition.get('queue')}; give "
                                   "--queue URL to fetch their outputs")
            out[k] = fetch(c["remote_id"])
        else:
            out[k] = cell_files(ledger, home, c["job_id"]) if status.get(c["job_id"]) == "completed" else None
    return out


def render(ledger: Any, home: Path, grid_id: int, cell: int = 256, block: bool = False,
           fetch: Fetch | None = None) -> list[str]:
    from ourvidz_cli.library import contact_sheet as cs
    from ourvidz_cli.library.outputs import write_png

    definition = ledger.grids.get(grid_id)["definition"]
    files = _files(ledger, home, definition, fetch)
    pending = [c.get("job_id", c.get("remote_id")) for k, c in enumerate(definition["cells"]) if files[k] is None]
    if pending:
        how = "'ourvidz queue run'" if "queue" not in definition else "the shared queue's workers"
        raise OurvidzError(f"grid {grid_id}: {len(pending)} of {len(definition['cells'])} cells are not done (jobs "
                           f"{', '.join(map(str, pending[:8]))}); wait for {how}, then 'ourvidz grid render "
                           f"{grid_id}'")
    lay = cs.layout(definition, cell)
    z_axis = definition["axes"].get("z")
    paths = []
    for k, z_value in enumerate(z_axis["values"] if z_axis else [None]):
        label = f"{z_axis['name']}: {z_value}" if z_axis else ""
        cells = [(files[n], c) for n, c in enumerate(definition["cells"]) if c.get("z", 0) == k]
        sheet = cs.base(definition, lay, label)
        for found, c in cells:
            picture = cs.still(found or [], cell, block)
            box = lay["cells"][f"{c['x']},{c.get('y', 0)}"]
            sheet.paste(picture, (box[0] + (cell - picture.width) // 2, box[1] + (cell - picture.height) // 2))
        path = home / "outputs" / "grids" / f"{grid_id}_{k}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_png(path, sheet, cs.png_chunk(definition, lay, k))
        paths.append(str(path))
        if definition.get("output") == "mp4":
            paths.append(str(_video_sheet(home, grid_id, k, cells, sheet, lay, cell, definition)))
    ledger.grids.set_sheets(grid_id, paths)
    return paths


def _video_sheet(home: Path, grid_id: int, k: int, cells: list[tuple[Any, dict[str, Any]]], sheet: Any,
                 lay: dict[str, Any], cell: int, definition: dict[str, Any]) -> Path:
    """The clips tiled on the labelled sheet, frame by frame (a shorter clip holds its last frame)."""
    import numpy as np
    from PIL import Image

    from ourvidz_cli.library import contact_sheet as cs
    from ourvidz_cli.library.outputs import write_mp4

    clips = {(c["x"], c.get("y", 0)): cs.video_frames(found[0]) for found, c in cells}
    length = max(len(f) for f in clips.values())
    frames = np.empty((length, sheet.height, sheet.width, 3), np.uint8)
    for t in range(length):
        canvas = sheet.copy()
        for (i, j), clip in clips.items():
            picture = cs.fit(Image.fromarray(clip[min(t, len(clip) - 1)]), cell)
            box = lay["cells"][f"{i},{j}"]
            canvas.paste(picture, (box[0] + (cell - picture.width) // 2, box[1] + (cell - picture.height) // 2))
        frames[t] = np.asarray(canvas)
    path = home / "outputs" / "grids" / f"{grid_id}_{k}.mp4"
    write_mp4(path, frames, int(definition.get("fps", 16)), {"comment": f"ourvidz grid {grid_id}"})
    return path
