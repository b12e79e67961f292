"""Items shaped as the real app sends them with a reference image (issue 26): fetched from an allowed
origin only, checked as an image, stored as the job's input; a reference that cannot be used fails the job
with its reason and a failed callback (never a silent text-to-image)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ourvidz_cli.remote.redis_queue import RedisQueue
from ourvidz_cli.remote.transport import open_transport
from tests.conftest import Result, jobs


class _Pictures(BaseHTTPRequestHandler):
    png = b""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        routes = {"/ref.png": (200, "image/png", self.png), "/page": (200, "text/html", b"<html>hi</html>"),
                  "/moved": (302, "text/plain", b"")}
        status, kind, body = routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if status == 302:
            self.send_header("Location", "http://10.1.2.3/ref.png")  # into a private network: refused
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pictures() -> Iterator[str]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, format="PNG")
    _Pictures.png = buf.getvalue()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pictures)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _item(job_id: str, url: str, **meta: Any) -> str:
    return json.dumps({"id": job_id, "type": "sdxl_image_fast", "prompt": "a red boat", "user_id": None,
                       "config": {"num_inference_steps": 4, "num_images": 1, "seed": 1},
                       "metadata": {"reference_image_url": url, **meta}, "created_at": "2026-12-01T10:00:00Z"})


def test_reference_images_are_fetched_from_allowed_origins_only(cli: Callable[..., Result], queue_url: str,
                                                               pictures: str, home: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURVIDZ_FETCH_ALLOW", pictures)
    rq = RedisQueue(open_transport(queue_url))
    items = {"ok": _item("ok", f"{pictures}/ref.png", reference_strength=0.4),
             "gone": _item("gone", f"{pictures}/missing"), "html": _item("html", f"{pictures}/page"),
             "redirect": _item("redirect", f"{pictures}/moved"),
             "elsewhere": _item("elsewhere", "http://127.0.0.2:9/ref.png"),
             "frames": json.dumps({"id": "frames", "type": "video_fast", "prompt": "waves",
                                   "config": {"first_frame": f"{pictures}/ref.png", "frames": 5, "steps": 1,
                                              "last_frame": f"{pictures}/ref.png",
                                              "reference_images": [f"{pictures}/ref.png"]}}),
             "badframe": json.dumps({"id": "badframe", "type": "video_fast", "prompt": "waves",
                                      "config": {"last_frame": f"{pictures}/page"}}),
             "clip": json.dumps({"id": "clip", "type": "video_fast", "prompt": "waves",
                                 "config": {"video": f"{pictures}/ref.png"}}),
             "copy": _item("copy", f"{pictures}/ref.png", exact_copy_mode=True, reference_strength=0.95)
             .replace('"a red boat"', '""')}
    for raw in items.values():
        rq.push("wan_queue" if '"video_fast"' in raw else "sdxl_queue", [raw])
    res = cli("--smoke", "worker", "--queue", queue_url, "--local-results", "--drain", "--poll", "0.1", "--json")
    assert res.code == 0, res.err
    bodies = {k: json.loads(rq.done_body(k) or "{}") for k in items}
    assert [bodies[k]["status"] for k in ("ok", "frames", "copy")] == ["completed"] * 3, bodies
    for key, reason in (("gone", "HTTP 404"), ("html", "text/html, not an image"),
                        ("redirect", "10.1.2.3"), ("elsewhere", "not an allowed origin"),
                        ("badframe", "text/html, not an image"), ("clip", "config.video")):
        assert bodies[key]["status"] == "failed" and reason in bodies[key]["error_message"], (key, bodies[key])
    ran = {json.loads(j["config"])["job_type"] + ("-copy" if not j["prompt"] else ""): j for j in jobs(home)}
    stored = json.loads(ran["sdxl_image_fast"]["config"])["inputs"]
    assert stored["strength"] == 0.6 and (home / stored["image"]).read_bytes() == _Pictures.png
    framed = json.loads(ran["video_fast"]["config"])
    assert framed["vace"]["name"] == "wan_vace" and framed["inputs"]["first_frame"] == stored["image"]
    assert framed["inputs"]["last_frame"] == stored["image"] and framed["inputs"]["refs"] == [stored["image"]]
    # Exact copy as the real worker applies it, with one denoising step actually run (references.py).
    copied = json.loads(ran["sdxl_image_fast-copy"]["config"])
    assert copied["inputs"]["strength"] == 0.05 and copied["guidance"] == 1.0 and copied["steps"] == 20
    assert copied["negative"] == "" and copied["enhancer"] is None
