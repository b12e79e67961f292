"""The seed's `job-callback` edge function: one POST per finished job, telling the backend its status,
outputs and measures. The body is built once and the same bytes go out on every retry (timeouts, 429
and 5xx back off exponentially), so the backend may treat a repeat as the same news; with
OURVIDZ_CALLBACK_SECRET set, the raw body is signed: `X-Callback-Signature: sha256=<hex HMAC-SHA256>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from ourvidz_cli.sync.client import Client

CALLBACK_PATH = "/functions/v1/job-callback"


def callback_body(job_id: str, status: str, assets: list[str], error: str | None,
                  metadata: dict[str, Any], is_video: bool | None = None) -> str:
    """The body as sent (and as stored for a reaper to resend): SDXL's six paths as `imageUrls`, a
    video's one as `outputUrl`, every path in `assets`."""
    body: dict[str, Any] = {"job_id": job_id, "status": status, "assets": assets, "error_message": error,
                            "metadata": metadata}
    if assets and is_video is not None:
        body["outputUrl" if is_video else "imageUrls"] = assets[0] if is_video else assets
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Callback:
    def __init__(self, client: Client, secret: str | None = None) -> None:
        self.client = client
        self.secret = secret if secret is not None else os.environ.get("OURVIDZ_CALLBACK_SECRET") or None

    def send(self, body: str) -> None:
        """Raises OurvidzError when every retry failed."""
        raw = body.encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Callback-Signature"] = signature(raw, self.secret)
        self.client.request("POST", CALLBACK_PATH, "job callback", content=raw, headers=headers)
