"""A loopback server that speaks the parts of Supabase's Storage and PostgREST APIs that ourvidz calls,
the way the real servers answer; the official clients (supabase-py's storage3 and postgrest, tuspy) are
its oracle (tests/sync/test_official_clients.py). Each rule names the real source file it follows:

- Storage (tests/support/storage.py): buckets, uploads (raw and multipart), downloads, deletes, signed
  URLs, with supabase/storage's key, bucket-name, MIME and size rules and its error bodies.
- TUS resumable uploads (tests/support/tus.py), as @tus/server with Storage's hooks.
- PostgREST (tests/support/postgrest.py): rows in a real PostgreSQL holding the seed's tables, and
  PostgREST's statuses and {code, details, hint, message} bodies.
- Keys: `apikey` must be the project's key. A legacy JWT key goes in `Authorization: Bearer` too; an
  sb_secret_ key may be sent alone or also as the bearer token (the platform's API gateway swaps it for
  a short-lived service_role JWT, as supabase-py relies on); any other bearer is refused.

Faults for tests: `server.fault(method, path_regex, action, times)` where action is "500", "429",
"stall" (answer after `stall_s`, past the client's timeout), "delay" (wait `stall_s`, then answer as usual:
a slow upload), "drop" (close without answering) or
"lose-reply" (do the work, then close without answering); `skip` lets that many matching requests
through first. `state.pg_unreachable` / `state.pg_timeouts` make the database itself fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from tests.support import postgrest, storage, tus
from tests.support.tus import Upload


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    action: str
    times: int
    skip: int = 0  # let this many matching requests through first


class State:
    def __init__(self, key: str, dsn: str) -> None:
        self.key, self.dsn = key, dsn
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, Any]] = {}
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.uploads: dict[str, Upload] = {}
        self.cache_control: dict[tuple[str, str], str | None] = {}
        # The project's global upload limit: 50 MB on the free plan (storage's FILE_SIZE_LIMIT, which
        # `Storage.parseMaxSizeLimit` in src/storage/storage.ts enforces on bucket create and upload).
        self.global_limit = 50 * 2**20
        self.faults: list[Fault] = []
        self.log: list[dict[str, Any]] = []
        self.stall_s = 3.0
        # The seed's job-callback edge function (JWT verification off, as the seed deploys it): every
        # body it accepted, and the HMAC secret it checks X-Callback-Signature against when set.
        self.callbacks: list[dict[str, Any]] = []
        self.callback_secret: str | None = None
        # How long a TUS upload lives (tus-node-server's expiration extension, which Storage configures in
        # src/http/routes/tus/index.ts); after it, the upload URL answers 410 Gone.
        self.upload_expires_s = 24 * 3600.0
        self.pg_unreachable = 0  # the next N PostgREST requests find the database unreachable (503)
        self.pg_timeouts = 0  # the next N hit a statement timeout in PostgreSQL (57014 -> 500)


class Handler(BaseHTTPRequestHandler):
    server: FakeSupabase
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.server.state

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        if getattr(self, "_lose_reply", False):
            self._lose_reply = False
            self.close_connection = True
            self.connection.shutdown(2)
            return
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        # Logged before the reply goes out, so a test that has the reply also sees the entry.
        self.state.log.append({"method": self.command, "path": urlparse(self.path).path, "status": status})
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None and not isinstance(body, bytes):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _storage_error(self, code: str, error: str, message: str) -> None:
        self._send(400, {"statusCode": code, "error": error, "message": message})

    def _fault(self) -> bool:
        path = urlparse(self.path).path
        with self.state.lock:
            for f in self.state.faults:
                if f.times > 0 and f.method == self.command and f.path.search(path):
                    if f.skip > 0:
                        f.skip -= 1
                        continue
                    f.times -= 1
                    action = f.action
                    break
            else:
                return False
        if action == "delay":  # slow, then served normally
            self.state.log.append({"method": self.command, "path": path, "status": "fault:delay"})
            time.sleep(self.state.stall_s)
            return False
        if action == "lose-reply":  # do the work, then drop the connection instead of answering
            self._lose_reply = True
            self.state.log.append({"method": self.command, "path": path, "status": "fault:lose-reply"})
            return False
        body = self._body()  # read what the client sent, as a real server would before failing
        self.state.log.append({"method": self.command, "path": path, "status": f"fault:{action}",
                               "bytes": len(body)})
        if action == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if action == "stall":
            time.sleep(self.state.stall_s)
            self.close_connection = True
            return True
        if action == "429":
            self._send(429, {"message": "rate limited"}, {"Retry-After": "0"})
            return True
        self._send(500, {"statusCode": "500", "error": "internal", "message": "injected failure"})
        return True

    def _authorized(self, storage: bool) -> bool:
        if not self.headers.get("apikey"):  # the API gateway's answers (Kong's key-auth, as Supabase words it)
            self._body()
            self._send(401, {"message": "No API key found in request",
                             "hint": "No `apikey` request header or url param was found."})
            return False
        if self.headers.get("apikey") != self.state.key:
            self._body()
            self._send(401, {"message": "Invalid API key", "hint": "Double check your Supabase `anon` or "
                                                                      "`service_role` API key."})
            return False
        auth = self.headers.get("authorization")
        if auth and auth != f"Bearer {self.state.key}" and _expired(auth.removeprefix("Bearer ")):
            self._body()
            if storage:  # src/internal/errors/codes.ts InvalidJWT (400), with jose's JWTExpired message
                self._storage_error("400", "InvalidJWT", '"exp" claim timestamp check failed')
            else:  # PostgREST's JwtTokenExpired (src/PostgREST/Error.hs)
                self._send(401, {"code": "PGRST303", "details": None, "hint": None, "message": "JWT expired"})
            return False
        if self.state.key.startswith("eyJ"):
            ok = auth == f"Bearer {self.state.key}"
        else:  # an sb_secret_ key alone, or repeated as the bearer token (the gateway swaps it for a JWT)
            ok = auth is None or auth == f"Bearer {self.state.key}"
        if not ok:
            self._body()
            if storage:
                self._storage_error("403", "Unauthorized", "invalid signature")
            else:
                self._send(401, {"code": "PGRST301", "details": None, "hint": None, "message": "Invalid JWT"})
            return False
        return True

    # -- routing -----------------------------------------------------------------------------------

    def _route(self) -> None:
        path = urlparse(self.path).path
        if self._fault():
            return
        if path.startswith("/storage/v1/object/sign/") and self.command == "GET":
            return storage.serve_signed(self)
        if path == "/functions/v1/job-callback" and self.command == "POST":
            return self._job_callback()
        if path.startswith("/rest/v1/"):
            if self._authorized(storage=False):
                self._rest(path.removeprefix("/rest/v1/"))
            return
        if not path.startswith("/storage/v1/"):
            self._body()
            return self._send(404, {"message": "not found"})
        if not self._authorized(storage=True):
            return
        rest = path.removeprefix("/storage/v1/")
        if rest == "bucket" or rest.startswith("bucket/"):
            return storage.buckets(self, rest.removeprefix("bucket").strip("/"))
        if rest.startswith("upload/resumable"):
            return tus.handle(self, rest.removeprefix("upload/resumable").strip("/"))
        if rest.startswith("object/sign/"):
            return storage.sign(self, rest.removeprefix("object/sign/"))
        if rest.startswith("object/"):
            return storage.objects(self, rest.removeprefix("object/"))
        self._body()
        self._storage_error("404", "not_found", "unknown route")

    do_GET = do_POST = do_PUT = do_PATCH = do_HEAD = do_DELETE = _route  # noqa: N815

    def _job_callback(self) -> None:
        raw = self._body()
        secret = self.state.callback_secret
        if secret is not None:
            want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(self.headers.get("x-callback-signature", ""), want):
                return self._send(401, {"error": "bad signature"})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        with self.state.lock:
            self.state.callbacks.append({"body": body, "raw": raw, "at": time.time()})
        self._send(200, {"success": True})

    # -- PostgREST ---------------------------------------------------------------------------------

    def _rest(self, table: str) -> None:
        postgrest.handle(self, table)


def _expired(token: str) -> bool:
    """A JWT whose `exp` has passed (the signature is not checked: only this one answer depends on it)."""
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return False
    return isinstance(claims, dict) and isinstance(claims.get("exp"), (int, float)) and claims["exp"] < time.time()


class FakeSupabase(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, key: str, dsn: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State(key, dsn)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeSupabase:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def add_bucket(self, name: str, limit: int | None = None, mime: list[str] | None = None,
                   public: bool = False) -> None:
        """A bucket made elsewhere (the dashboard, another tool), with its own rules."""
        self.state.buckets[name] = storage.bucket_record(name, public, limit, mime)

    def fault(self, method: str, path: str, action: str, times: int = 1, skip: int = 0) -> None:
        self.state.faults.append(Fault(method, re.compile(path), action, times, skip))

    def count(self, method: str, path: str = "") -> int:
        return sum(1 for e in self.state.log if e["method"] == method and path in e["path"]
                   and isinstance(e["status"], int) and e["status"] < 300)
