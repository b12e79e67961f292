"""A self-contained static HTML gallery of the ledger: one page, relative links, works from file://.

Images are shown through small JPEG thumbnails made once per asset (a page of 1024px PNGs would be
hundreds of megabytes); videos show a poster (their middle frame) until played. A click enlarges the
image or plays the video in a dialog; each card carries its prompt, seed and the exact `ourvidz rerun`
command, copyable.
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
.media { cursor: zoom-in; }
.rerun { display: flex; gap: 6px; align-items: center; margin-top: 6px; }
.rerun code { font-size: 12px; padding: 2px 6px; border-radius: 4px; background: rgba(127,127,127,.18);
  user-select: all; }
.rerun button { font-size: 12px; cursor: pointer; }
.inputs { display: flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); margin-top: 6px; }
.inputs img { display: inline-block; width: 40px; height: 40px; object-fit: cover; }
.ab { grid-column: span 2; } .ab-pair { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
.ab-label { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
dialog { border: none; padding: 0; background: #000; max-width: 92vw; max-height: 92vh; }
dialog::backdrop { background: rgba(0,0,0,.8); }
dialog img, dialog video { display: block; max-width: 92vw; max-height: 92vh; min-width: 256px;
  image-rendering: pixelated; }
"""

# The filter box hides cards whose data-text lacks what was typed; a click on a card's media opens it
# full size in the dialog (a video plays there); the copy button puts the rerun command on the clipboard,
# or selects it where the page (file://) may not write the clipboard.
SCRIPT = """
document.getElementById('filter').addEventListener('input', function (event) {
  var needle = event.target.value.toLowerCase();
  document.querySelectorAll('.card').forEach(function (card) {
    card.style.display = card.dataset.text.indexOf(needle) === -1 ? 'none' : '';
  });
});
var viewer = document.getElementById('viewer');
document.querySelectorAll('.media').forEach(function (media) {
  media.addEventListener('click', function (event) {
    event.preventDefault();
    var big = document.createElement(media.dataset.kind === 'video' ? 'video' : 'img');
    big.src = media.dataset.full;
    if (media.dataset.kind === 'video') { big.controls = true; big.loop = true; big.muted = true; big.autoplay = true; }
    viewer.replaceChildren(big);
    viewer.showModal();
    if (big.play) { big.play().catch(function () {}); }
  });
});
viewer.addEventListener('click', function () { viewer.close(); });
viewer.addEventListener('close', function () { viewer.replaceChildren(); });
document.querySelectorAll('.rerun button').forEach(function (button) {
  button.addEventListener('click', function () {
    var code = button.previousElementSibling, text = code.textContent;
    var range = document.createRange(); range.selectNodeContents(code);
    var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
    var done = function () { button.textContent = 'copied'; };
    if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, function () {}); }
    else { document.execCommand('copy'); done(); }
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


def _poster(src: Path, thumbs: Path, asset: dict[str, Any]) -> Path | None:
    """The video's middle frame as a JPEG (the first is often dark), so the card is not a grey box."""
    out = thumbs / f"{asset['sha256'][:20]}-poster.jpg"
    if out.is_file():
        return out
    try:
        import imageio_ffmpeg
        import numpy as np
        from PIL import Image

        reader = imageio_ffmpeg.read_frames(str(src))
        meta = next(reader)
        frames = list(reader)
        width, height = meta["size"]
        frame = np.frombuffer(frames[len(frames) // 2], np.uint8).reshape(height, width, 3)
        thumbs.mkdir(parents=True, exist_ok=True)
        tmp = thumbs / f".partial-{out.name}"
        Image.fromarray(frame).save(tmp, format="JPEG", quality=90)
        os.replace(tmp, out)
    except (OSError, RuntimeError, StopIteration, IndexError, ValueError):
        return None
    return out


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    parts = [] if asset is None else [_media(asset, home, out_dir, thumbs)]
    if cfg.inputs is not None:
        parts.append(_inputs(cfg.inputs, home, out_dir, thumbs))
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
    parts.append(f'<div class="rerun"><code>ourvidz rerun {job["id"]}</code>'
                 '<button type="button" title="copy the command">copy</button></div>')
    text = " ".join([job["prompt"], job["enhanced_prompt"] or "", job["type"], str(job["seed"])]).lower()
    kind = "failed" if job["status"] == "failed" else asset["kind"] if asset else "job"
    return (f'<div class="card {kind}" data-job="{job["id"]}" data-asset="{asset["id"] if asset else ""}" '
            f'data-text="{esc(text)}">{"".join(parts)}</div>')


def _media(asset: dict[str, Any], home: Path, out_dir: Path, thumbs: Path) -> str:
    """The card's picture: an image thumbnail, or a video with its poster; both open full size on click."""
    esc = html.escape
    src = home / asset["path"]
    link = esc(_rel(src, out_dir))
    shown_by = _poster if asset["kind"] == "video" else _thumb
    still = shown_by(src, thumbs, asset) if src.is_file() else None
    opens = f'class="media" data-kind="{asset["kind"]}" data-full="{link}"'
    if asset["kind"] == "video":
        poster = f' poster="{esc(_rel(still, out_dir))}"' if still else ""
        return (f'<video {opens} muted loop preload="none"{poster} src="{link}" width="{asset["width"]}" '
                f'height="{asset["height"]}"></video>')
    shown = esc(_rel(still, out_dir)) if still else link
    return (f'<a href="{link}" {opens}><img loading="lazy" src="{shown}" alt="asset {asset["id"]}" '
            f'width="{asset["width"]}" height="{asset["height"]}"></a>')


def _inputs(given: Any, home: Path, out_dir: Path, thumbs: Path) -> str:
    """What the job started from, beside what it made: the input pictures (and mask), small, linked; a
    video input as a link (its thumbnail would need a decode per card)."""
    shown = []
    roles = [("from", given.image), ("mask", given.mask), ("first frame", given.first_frame),
             ("last frame", given.last_frame), *(("subject", ref) for ref in given.refs), ("video", given.video)]
    for role, name in roles:
        if name:
            src = home / name
            still = _thumb(src, thumbs, {"sha256": Path(name).stem}) if src.is_file() else None
            link = html.escape(_rel(src, out_dir))
            img = f'<img src="{html.escape(_rel(still, out_dir))}" alt="{role}">' if still else html.escape(name)
            shown.append(f'{role} <a class="input" href="{link}">{img}</a>')
    how = html.escape(given.fit) if given.frames_in else f"strength {given.strength} · {html.escape(given.fit)}"
    return f'<div class="inputs">{" ".join(shown)} <span>{how}</span></div>'


def _ab(enhanced: str, raw: str) -> str:
    """An A/B pair (--ab) side by side: the same seed and settings, Qwen's prompt and the user's own."""
    return (f'<div class="ab"><div class="ab-label">A/B: enhanced prompt (left), raw prompt (right)</div>'
            f'<div class="ab-pair">{enhanced}{raw}</div></div>')


def _cards(jobs: list[dict[str, Any]], home: Path, out_dir: Path, thumbs: Path) -> tuple[list[str], tuple[int, int]]:
    """A bucket's cards, a raw-prompt twin beside its enhanced job; and (assets, failed jobs) counted."""
    ids = {j["id"] for j in jobs}
    twins = {j["pair_of"]: j for j in jobs if j.get("pair_of") in ids}
    cards, n_assets, n_failed = [], 0, 0
    for job in jobs:
        if job.get("pair_of") in ids:
            continue  # drawn beside the job it is paired with
        twin = twins.get(job["id"])
        shown = [(job, a) for a in job["assets"]] or ([(job, None)] if job["status"] == "failed" else [])
        for n, (each, asset) in enumerate(shown):
            card = _card(each, asset, home, out_dir, thumbs)
            if twin is not None:
                other = twin["assets"][n] if n < len(twin["assets"]) else None
                if other is not None or (twin["status"] == "failed" and n == 0):
                    card = _ab(card, _card(twin, other, home, out_dir, thumbs))
            cards.append(card)
        for counted in [job] + ([twin] if twin else []):
            n_assets += len(counted["assets"])
            n_failed += counted["status"] == "failed"
    return cards, (n_assets, n_failed)


def _grids(ledger: Ledger, out_dir: Path) -> list[str]:
    """The grids' contact sheets (ourvidz grid), newest first, each linked to its file."""
    cards = []
    for found in reversed(ledger.grids.all()):
        for sheet in found["sheets"]:
            link = html.escape(_rel(Path(sheet), out_dir))
            media = (f'<video muted loop controls preload="none" src="{link}"></video>' if sheet.endswith(".mp4")
                     else f'<a href="{link}"><img loading="lazy" src="{link}" alt="grid {found["id"]}"></a>')
            cards.append(f'<div class="card grid-sheet" data-prompt="{html.escape(found["prompt"])}">{media}'
                         f'<div class="prompt">grid {found["id"]}: {html.escape(found["prompt"])}</div></div>')
    return [f'<section data-bucket="grids"><h2>grids</h2><div class="grid">{"".join(cards)}</div></section>'] \
        if cards else []


def build(ledger: Ledger, home: Path, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    thumbs = out_dir / "thumbs"
    groups = collect(ledger)
    sections, n_assets, n_failed = [], 0, 0
    for bucket in sorted(groups, key=lambda b: -max(j["finished_at"] or j["created_at"] for j in groups[b])):
        cards, n = _cards(groups[bucket], home, out_dir, thumbs)
        n_assets, n_failed = n_assets + n[0], n_failed + n[1]
        if cards:
            sections.append(f'<section data-bucket="{html.escape(bucket)}"><h2>{html.escape(bucket)} '
                            f'<span class="summary">({_plural(len(groups[bucket]), "job")})</span></h2>'
                            f'<div class="grid">{"".join(cards)}</div></section>')
    sections += _grids(ledger, out_dir)
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>ourvidz gallery</title><style>{CSS}</style></head><body>"
        f"<h1>ourvidz gallery</h1><div class=\"summary\">{_plural(n_assets, 'asset')}, "
        f"{_plural(n_failed, 'failed job')} · "
        f"generated {_when(time.time())} from {html.escape(str(ledger.path))}</div>"
        '<input id="filter" type="search" placeholder="filter by prompt, type or seed">'
        + ("".join(sections) or "<p>No finished jobs yet: try ourvidz generate.</p>")
        + f'<dialog id="viewer"></dialog><script>{SCRIPT}</script></body></html>\n'
    )
    index = out_dir / "index.html"
    tmp = out_dir / ".partial-index.html"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, index)
    return {"path": str(index), "assets": n_assets, "failed_jobs": n_failed, "buckets": len(sections)}
