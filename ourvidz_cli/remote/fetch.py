"""Reference images a shared-queue item names by URL (`metadata.reference_image_url`, `config.image`),
fetched as untrusted input: a queue item must not turn a worker into a proxy into its own network.

Fetched only from an allowed origin: the origin of `SUPABASE_URL` (signed Storage URLs) and those
`OURVIDZ_FETCH_ALLOW` lists (comma-separated `https://host[:port]`, or `http://...` to allow a plain
HTTP origin, as the tests' loopback server). Outside a listed origin nothing but https is fetched, and
never a host that resolves to a loopback, private, link-local or otherwise non-global address. Every
redirect is checked the same way. The body is capped, must say it is an image, and must decode as one
(library.inputs); 5xx and dropped connections are retried.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from ourvidz_cli.library.inputs import Prepared, prepare_bytes

MAX_BYTES = 50 * 2**20
REDIRECTS = 3
RETRIES = 2


class FetchRefused(Exception):
    """Why a reference could not be used; the job fails with it."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{port}"


def allowed_origins() -> set[str]:
    found = set()
    if os.environ.get("SUPABASE_URL"):
        found.add(_origin(os.environ["SUPABASE_URL"].strip()))
    for entry in os.environ.get("OURVIDZ_FETCH_ALLOW", "").split(","):
        entry = entry.strip()
        if entry:
            found.add(_origin(entry if "://" in entry else f"https://{entry}"))
    return found


def check_url(url: str, allowed: set[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise FetchRefused(f"{parts.scheme or 'a'}: URL, not https")
    if _origin(url) in allowed:
        return
    if parts.scheme != "https":
        raise FetchRefused(f"{_origin(url)} is plain http and not an allowed origin")
    if not any(parts.hostname.lower() == urlsplit(o).hostname for o in allowed):
        raise FetchRefused(f"host {parts.hostname} is not an allowed origin (SUPABASE_URL's, or OURVIDZ_FETCH_ALLOW)")
    for info in socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP):
        if not ipaddress.ip_address(info[4][0]).is_global:
            raise FetchRefused(f"host {parts.hostname} resolves to a non-public address {info[4][0]}")


def fetch(url: str, role: str = "reference image", timeout_s: float = 20.0) -> Prepared:
    """The image at `url`, checked like a local input; FetchRefused with the reason otherwise."""
    import httpx

    allowed = allowed_origins()
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for _ in range(REDIRECTS + 1):
            check_url(url, allowed)
            status, headers, body = _get(client, url)
            if status in (301, 302, 303, 307, 308) and headers.get("location"):
                url = urljoin(url, headers["location"])
                continue
            return _image(status, headers.get("content-type") or "", body, url, role)
    raise FetchRefused(f"more than {REDIRECTS} redirects")


def _get(client: Any, url: str) -> tuple[int, Any, bytes]:
    """(status, headers, body read under the cap), with 5xx and dropped connections retried."""
    import httpx

    for attempt in range(RETRIES + 1):
        try:
            with client.stream("GET", url) as resp:
                if resp.status_code >= 500 and attempt < RETRIES:
                    time.sleep(0.5 * 2**attempt)
                    continue
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise FetchRefused(f"over {MAX_BYTES // 2**20} MB")
                return resp.status_code, resp.headers, bytes(body)
        except httpx.HTTPError as exc:
            if attempt == RETRIES:
                raise FetchRefused(f"no answer ({type(exc).__name__})") from None
            time.sleep(0.5 * 2**attempt)
    raise FetchRefused("no answer")


def _image(status: int, content_type: str, body: bytes, url: str, role: str) -> Prepared:
    from ourvidz_cli.errors import UsageError

    if status != 200:
        raise FetchRefused(f"HTTP {status} from {_origin(url)}")
    kind = content_type.split(";")[0].strip()
    if not kind.startswith("image/"):
        raise FetchRefused(f"{_origin(url)} answered {kind or 'no content type'}, not an image")
    try:
        return prepare_bytes(body, f"{role} from {_origin(url)}")
    except UsageError as exc:
        raise FetchRefused(str(exc)) from None
