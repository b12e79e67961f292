"""A self-contained static HTML gallery of the ledger: one page, relative links, works from file://.

Images are shown through small JPEG thumbnails made once per asset (a page of 1024px PNGs would be
hundreds of megabytes); each links to its full file. Videos play inline from their own files.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from typing import Any

from ourvidz_cli.ledger import Ledger

THUMB_PX = 320

CSS = """
:root { color-scheme: light dark; --fg: #1d1d1f; --muted: #6e6e73; --card: #f5f5f7; --bad: #b00020; }
@media (prefers-color-scheme: dark) { :root { --fg: #f5f5f7; --muted: #a1a1a6; --card: #1c1c1e; --bad: #ff6b6b; } }
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: var(--fg); }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 32px; }
.summary, .meta { color: var(--muted); }
#filter { width: 320px; padding: 6px; margin: 8px 0 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 16px; }
.card { background: var(--card); border-radius: 8px; padding: 10px; overflow: hidden; }
.card img, .card video { width: 100%; height: auto; border-radius: 4px; display: block; background: #000; }
.prompt { margin: 8px 0 4px; word-wrap: break-word; }
.enhanced { font-style: italic; }
.error { color: var(--bad); word-wrap: break-word; }
.meta { font-size: 12px; }
"""

# Filters cards by the text typed; cards carry their searchable text in data-text.
SCRIPT = """
document.getElementById('filter').addEventListener('input', function (event) {
  var needle = event.target.value.toLowerCase();
  document.querySelectorAll('.card').forEach(function (card) {
    card.style.display = card.dataset.text.indexOf(needle) === -1 ? 'none' : '';
  });
});
"""


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _thumb(src: Path, thumbs: Path, asset: dict[str, Any]) -> Path | None:
    """A JPEG thumbnail named by content hash, so a regenerated gallery reuses it."""
    out = thumbs / f"{asset['sha256'][:20]}.jpg"
    if out.is_file():
        return out
    try:
        from PIL import Image

        with Image.open(src) as img:
            img.thumbnail((THUMB_PX, THUMB_PX))
            thumbs.mkdir(parents=True, exist_ok=True)
            tmp = thumbs / f".partial-{out.name}"
            img.convert("RGB").save(tmp, format="JPEG", quality=85)
            os.replace(tmp, out)
    except OSError:
        return None
    return out


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def _secs(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "–"


def collect(ledger: Ledger) -> dict[str, list[dict[str, Any]]]:
    """Finished jobs grouped by bucket, newest first; completed ones with their assets."""
    assets = ledger.assets.by_job()
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in ledger.queries.finished_jobs():
        job["assets"] = assets.get(job["id"], [])
        groups.setdefault(job["config"].bucket, []).append(job)
    return groups


def _card(job: dict[str, Any], asset: dict[str, Any] | None, home: Path, out_dir: Path, thumbs: Path) -> str:
    esc = html.escape
    cfg = job["config"]
    parts = []
    if asset is not None:
        src = home / asset["path"]
        link = esc(_rel(src, out_dir))
        if asset["kind"] == "video":
            parts.append(f'<video controls muted loop preload="metadata" src="{link}"></video>')
        else:
            thumb = _thumb(src, thumbs, asset) if src.is_file() else None
            shown = esc(_rel(thumb, out_dir)) if thumb else link
            parts.append(f'<a href="{link}"><img loading="lazy" src="{shown}" alt="asset {asset["id"]}" '
                         f'width="{asset["width"]}" height="{asset["height"]}"></a>')
    parts.append(f'<div class="prompt">{esc(job["prompt"])}</div>')
    if job["enhanced_prompt"] and job["enhanced_prompt"] != job["prompt"]:
        parts.append(f'<div class="prompt enhanced">enhanced: {esc(job["enhanced_prompt"])}</div>')
    if job["status"] == "failed":
        parts.append(f'<div class="error">failed: {esc(job["error"] or "unknown error")}</div>')
    label = f"asset {asset['id']} · " if asset else ""
    if job.get("rerun_of"):
        label += f"rerun of job {job['rerun_of']} · "
    parts.append(
        f'<div class="meta">{label}job {job["id"]} · {esc(job["type"])} · seed {job["seed"]} · '
        f'{cfg.width}x{cfg.height}{" · " + str(cfg.frames) + " frames" if (cfg.frames or 1) > 1 else ""} · '
        f'{cfg.steps} steps<br>total {_secs(job["duration_s"])} · load {_secs(job["load_s"])} · '
        f'generate {_secs(job.get("generate_s"))}'
        f'{" · enhance " + _secs(job["enhance_s"]) if job["enhance_s"] is not None else ""} · '
        f'{_when(job["finished_at"])}</div>'
    )
    text = " ".join([job["prompt"], job["enhanced_prompt"] or "", job["type"], str(job["seed"])]).lower()
    kind = "failed" if job["status"] == "failed" else asset["kind"] if asset else "job"
    return (f'<div class="card {kind}" data-job="{job["id"]}" data-asset="{asset["id"] if asset else ""}" '
            f'data-text="{esc(text)}">{"".join(parts)}</div>')


def build(ledger: Ledger, home: Path, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    thumbs = out_dir / "thumbs"
    groups = collect(ledger)
    sections, n_assets, n_failed = [], 0, 0
    for bucket in sorted(groups, key=lambda b: -max(j["finished_at"] or j["created_at"] for j in groups[b])):
        cards = []
        for job in groups[bucket]:
            if job["status"] == "failed":
                n_failed += 1
                cards.append(_card(job, None, home, out_dir, thumbs))
            for asset in job["assets"]:
                n_assets += 1
                cards.append(_card(job, asset, home, out_dir, thumbs))
        if cards:
            sections.append(f'<section data-bucket="{html.escape(bucket)}"><h2>{html.escape(bucket)} '
                            f'<span class="summary">({len(groups[bucket])} jobs)</span></h2>'
                            f'<div class="grid">{"".join(cards)}</div></section>')
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>ourvidz gallery</title><style>{CSS}</style></head><body>"
        f"<h1>ourvidz gallery</h1><div class=\"summary\">{n_assets} assets, {n_failed} failed jobs · "
        f"generated {_when(time.time())} from {html.escape(str(ledger.path))}</div>"
        '<input id="filter" type="search" placeholder="filter by prompt, type or seed">'
        + ("".join(sections) or "<p>No finished jobs yet: try ourvidz generate.</p>")
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
    index = out_dir / "index.html"
    tmp = out_dir / ".partial-index.html"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return {"path": str(index), "assets": n_assets, "failed_jobs": n_failed, "buckets": len(sections)}
