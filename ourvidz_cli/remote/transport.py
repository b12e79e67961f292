"""Two ways to send Redis commands, behind one method: redis-py for redis:// and rediss:// URLs, and
Upstash's REST API (a POST of the command as a JSON array, Bearer token) for https:// URLs.

Lua scripts go through EVAL on both, so the reliable-queue steps that must be atomic are one round
trip whichever transport carries them. Credentials stay out of every message: `display` is the URL
without them.
"""

from __future__ import annotations

import os
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ourvidz_cli.errors import OurvidzError, UsageError


class QueueUnavailable(OurvidzError):
    """The queue's server could not be reached (or is still loading its data): worth waiting out."""


class QueueRefused(OurvidzError):
    """The queue's server answered a command with an error: retrying the same call will not help."""


# Replies that mean "not ready yet", not "wrong command": a restarted server loading its data, a replica.
_TRANSIENT = ("LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY")


class Transport(Protocol):
    """Sends one Redis command and returns its reply (strings, ints, None, lists)."""

    display: str

    def execute(self, *args: str | int | float) -> Any: ...

    def close(self) -> None: ...


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class RedisPyTransport:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        import redis

        self.display = without_credentials(url)
        self._errors = (redis.RedisError, OSError)
        self._refused = redis.ResponseError
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout_s,
                                           socket_connect_timeout=timeout_s, health_check_interval=30)

    def execute(self, *args: str | int | float) -> Any:
        try:
            return self.client.execute_command(*args)
        except self._errors as exc:
            text = f"queue {self.display}: {type(exc).__name__}: {_scrub(str(exc))}"
            if isinstance(exc, self._refused) and not str(exc).startswith(_TRANSIENT):
                raise QueueRefused(text) from None
            raise QueueUnavailable(text) from None

    def close(self) -> None:
        self.client.close()


class UpstashTransport:
    """Upstash answers {"result": ...} or {"error": "..."}; a refused token is HTTP 401."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0, retries: int = 3) -> None:
        import httpx

        self.display, self.retries = without_credentials(url), retries
        self._httpx = httpx
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s,
                                 headers={"Authorization": f"Bearer {token}"})

    def execute(self, *args: str | int | float) -> Any:
        body = [a if isinstance(a, str) else str(a) for a in args]
        for attempt in range(self.retries + 1):
            try:
                resp = self.http.post("/", json=body)
            except self._httpx.HTTPError as exc:
                if attempt == self.retries:
                    raise QueueUnavailable(f"queue {self.display}: no answer ({type(exc).__name__})") from None
                continue
            if resp.status_code >= 500 and attempt < self.retries:
                continue
            return self._reply(resp)
        raise AssertionError("unreachable")

    def _reply(self, resp: Any) -> Any:
        if resp.status_code == 401:
            raise UsageError(f"queue {self.display} refused the token (HTTP 401); check UPSTASH_REDIS_REST_TOKEN")
        try:
            data = resp.json()
        except ValueError:
            raise QueueUnavailable(f"queue {self.display}: HTTP {resp.status_code}, not JSON") from None
        if isinstance(data, dict) and "error" in data:
            error = str(data["error"])
            raise (QueueUnavailable if error.startswith(_TRANSIENT) else QueueRefused)(f"queue {self.display}: {error}")
        if not isinstance(data, dict) or "result" not in data:
            raise QueueUnavailable(f"queue {self.display}: HTTP {resp.status_code} without a result")
        return data["result"]

    def close(self) -> None:
        self.http.close()


def _scrub(text: str) -> str:
    # redis-py may echo the URL it was given; its password must not reach a terminal or a log.
    return " ".join(w if "@" not in w else without_credentials(w) for w in text.split())


def queue_url(option: str | None) -> str | None:
    """--queue, else OURVIDZ_QUEUE; None means the local ledger. 'upstash' names the seed's variables."""
    url = option if option is not None else os.environ.get("OURVIDZ_QUEUE")
    if url is None or url.strip() in ("", "local"):
        return None
    return url.strip()


def open_transport(url: str) -> Transport:
    if url == "upstash":
        url = os.environ.get("UPSTASH_REDIS_REST_URL", "")
        if not url:
            raise UsageError("--queue upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN")
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return RedisPyTransport(url)
    if scheme in ("http", "https"):
        token = os.environ.get("UPSTASH_REDIS_REST_TOKEN", "")
        if not token:
            raise UsageError(f"queue {without_credentials(url)} is Upstash's REST API: set UPSTASH_REDIS_REST_TOKEN")
        return UpstashTransport(url, token)
    raise UsageError(f"--queue '{without_credentials(url)}' is not a redis://, rediss:// or https:// (Upstash REST) "
                     "URL; leave it out for the local ledger")
