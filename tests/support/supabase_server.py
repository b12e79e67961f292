"""A loopback server that speaks the parts of Supabase's Storage and PostgREST APIs that ourvidz calls,
the way the real servers answer (each rule names the real source file it follows):

- Storage errors as HTTP 400 with the real code in the body's statusCode; bucket names and object keys
  checked as `isValidBucketName` / `isValidKey` do (supabase/storage src/storage/limits.ts), paths
  URL-decoded first; bucket limits above the project's global limit refused with 413 (storage.ts
  `parseMaxSizeLimit`); size and MIME limits; upserts; signed URLs.
- TUS resumable uploads (tus-node-server as Storage configures it in src/http/routes/tus/): any chunk
  size, `x-upsert` read on every request, `Upload-Expires` on creation and 410 Gone with a plain-text body
  once an upload expired, plain-text 404 for an unknown upload.
- PostgREST (tests/support/postgrest.py): rows in a real PostgreSQL holding the seed's tables, and
  PostgREST's statuses and {code, details, hint, message} bodies.

Faults for tests: `server.fault(method, path_regex, action, times)` where action is "500", "429",
"stall" (answer after `stall_s`, past the client's timeout), "drop" (close without answering) or
"lose-reply" (do the work, then close without answering); `skip` lets that many matching requests
through first. `state.pg_unreachable` / `state.pg_timeouts` make the database itself fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from tests.support import postgrest

SIGNING_SECRET = b"fake-storage-signing-secret"
# supabase/storage src/storage/limits.ts isValidKey / isValidBucketName (JavaScript's \w is ASCII only).
VALID_KEY = re.compile(r"[A-Za-z0-9_/!\-.*'() &$@=;:+,?]*")
VALID_BUCKET = re.compile(r"[A-Za-z0-9_!\-.*'() &$@=;:+,?]*")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    action: str
    times: int
    skip: int = 0  # let this many matching requests through first


@dataclass
class Upload:
    bucket: str
    name: str
    mime: str
    length: int
    upsert: bool
    expires_at: float
    data: bytearray = field(default_factory=bytearray)


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
        if self.headers.get("apikey") != self.state.key:
            self._body()
            self._send(401, {"message": "Invalid API key", "hint": "Double check your Supabase `anon` or "
                                                                      "`service_role` API key."})
            return False
        auth = self.headers.get("authorization")
        if self.state.key.startswith("eyJ"):
            ok = auth == f"Bearer {self.state.key}"
        else:  # sb_secret_ keys are not JWTs: sending one as a bearer token fails
            ok = auth is None
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
            return self._serve_signed()
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
        if rest == "bucket":
            return self._buckets()
        if rest.startswith("upload/resumable"):
            return self._tus(rest.removeprefix("upload/resumable").strip("/"))
        if rest.startswith("object/sign/"):
            return self._sign(rest.removeprefix("object/sign/"))
        if rest.startswith("object/"):
            return self._object(rest.removeprefix("object/"))
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

    # -- storage -----------------------------------------------------------------------------------

    def _buckets(self) -> None:
        if self.command == "GET":
            return self._send(200, list(self.state.buckets.values()))
        spec = json.loads(self._body() or b"{}")
        name = spec.get("id") or spec.get("name")
        if not isinstance(name, str) or not name or not VALID_BUCKET.fullmatch(name):
            return self._storage_error("400", "InvalidBucketName", "Bucket name invalid")
        limit = spec.get("file_size_limit")
        if isinstance(limit, int) and limit > self.state.global_limit:  # storage.ts parseMaxSizeLimit
            return self._storage_error("413", "Payload too large", "The object exceeded the maximum allowed size")
        with self.state.lock:
            if name in self.state.buckets:
                return self._storage_error("409", "Duplicate", "The resource already exists")
            self.state.buckets[name] = {"id": name, "name": name, "public": bool(spec.get("public")),
                                        "file_size_limit": spec.get("file_size_limit"),
                                        "allowed_mime_types": spec.get("allowed_mime_types")}
        self._send(200, {"name": name})

    def _check(self, bucket: str, size: int, mime: str) -> bool:
        b = self.state.buckets.get(bucket)
        if b is None:
            self._storage_error("404", "Bucket not found", "Bucket not found")
            return False
        if size > min(b["file_size_limit"] or self.state.global_limit, self.state.global_limit):
            self._storage_error("413", "Payload too large", "The object exceeded the maximum allowed size")
            return False
        if b["allowed_mime_types"] and mime not in b["allowed_mime_types"]:
            self._storage_error("415", "invalid_mime_type", f"mime type {mime} is not supported")
            return False
        return True

    def _store(self, bucket: str, name: str, data: bytes, mime: str, upsert: bool,
               cache_control: str | None = None) -> bool:
        with self.state.lock:
            if (bucket, name) in self.state.objects and not upsert:
                self._storage_error("409", "Duplicate", "The resource already exists")
                return False
            self.state.objects[(bucket, name)] = (data, mime)
            # Stored and served back exactly as sent (storage's object metadata `cacheControl`).
            self.state.cache_control[(bucket, name)] = cache_control
        return True

    def _valid_key(self, name: str) -> bool:
        """Storage decodes the path, then checks the key (src/http/routes/object/*.ts, limits.ts isValidKey)."""
        if name and VALID_KEY.fullmatch(name):
            return True
        self._storage_error("400", "InvalidKey", f"Invalid key: {name}")
        return False

    def _object(self, rest: str) -> None:
        bucket, _, name = rest.partition("/")
        name = unquote(name)
        data = self._body()
        if self.command not in ("POST", "PUT"):
            return self._storage_error("405", "method", "not allowed")
        if not self._valid_key(name):
            return
        mime = self.headers.get("content-type", "application/octet-stream")
        if not self._check(bucket, len(data), mime):
            return
        if self._store(bucket, name, data, mime, self.headers.get("x-upsert") == "true" or self.command == "PUT",
                       self.headers.get("cache-control")):
            self._send(200, {"Key": f"{bucket}/{name}", "Id": str(uuid.uuid4())})

    def _token(self, bucket: str, name: str, exp: int) -> str:
        sig = hmac.new(SIGNING_SECRET, f"{bucket}/{name}|{exp}".encode(), hashlib.sha256).digest()
        return f"{exp}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"

    def _sign(self, rest: str) -> None:
        bucket, _, name = rest.partition("/")
        expires = int(json.loads(self._body() or b"{}").get("expiresIn", 60))
        if (bucket, name) not in self.state.objects:
            return self._storage_error("404", "not_found", "Object not found")
        token = self._token(bucket, name, int(time.time()) + expires)
        self._send(200, {"signedURL": f"/object/sign/{bucket}/{name}?token={token}"})

    def _serve_signed(self) -> None:
        url = urlparse(self.path)
        bucket, _, name = url.path.removeprefix("/storage/v1/object/sign/").partition("/")
        token = parse_qs(url.query).get("token", [""])[0]
        exp = int(token.split(".")[0]) if token.split(".")[0].isdigit() else 0
        if not hmac.compare_digest(token, self._token(bucket, name, exp)):
            return self._storage_error("400", "InvalidJWT", "invalid signature")
        if exp < time.time():
            return self._storage_error("400", "InvalidJWT", "jwt expired")
        data, mime = self.state.objects[(bucket, name)]
        self._send(200, data, {"Content-Type": mime})

    def _tus(self, upload_id: str) -> None:
        if self.command == "POST" and not upload_id:
            self._body()
            items = [item.split(" ", 1) for item in self.headers.get("upload-metadata", "").split(",") if " " in item]
            meta = {k: base64.b64decode(v).decode() for k, v in items}
            length = int(self.headers.get("upload-length", "0"))
            if not self._valid_key(meta.get("objectName", "")):
                return
            if not self._check(meta.get("bucketName", ""), length, meta.get("contentType", "")):
                return
            new, expires = uuid.uuid4().hex, time.time() + self.state.upload_expires_s
            self.state.uploads[new] = Upload(meta["bucketName"], meta["objectName"], meta["contentType"], length,
                                             self.headers.get("x-upsert") == "true", expires)
            host = self.headers.get("host")
            return self._send(201, None, {"Location": f"http://{host}/storage/v1/upload/resumable/{new}",
                                          "Tus-Resumable": "1.0.0", "Upload-Expires": formatdate(expires, usegmt=True)})
        upload = self.state.uploads.get(upload_id)
        if upload is None:
            self._body()
            return self._send(404, b"The file for this url was not found\n", {"Content-Type": "text/plain"})
        if upload.expires_at < time.time():  # tus-node-server ERRORS.FILE_NO_LONGER_EXISTS
            self._body()
            return self._send(410, b"The file for this url no longer exists\n", {"Content-Type": "text/plain"})
        if self.command == "HEAD":
            return self._send(200, None, {"Upload-Offset": str(len(upload.data)),
                                          "Upload-Length": str(upload.length), "Tus-Resumable": "1.0.0"})
        if self.command != "PATCH":
            self._body()
            return self._send(405, None)
        chunk = self._body()
        # Real Storage reads x-upsert on every TUS request (src/http/routes/tus/index.ts, lifecycle.ts), not only
        # on creation: a PATCH without it on an object that exists is refused.
        if (upload.bucket, upload.name) in self.state.objects and self.headers.get("x-upsert") != "true":
            return self._send(409, {"message": "The resource already exists"})
        if int(self.headers.get("upload-offset", "-1")) != len(upload.data):
            return self._send(409, {"message": "offset mismatch"})
        # Any chunk size is taken (6 MB is supabase-js's choice, not the server's rule).
        last = len(upload.data) + len(chunk) == upload.length
        upload.data.extend(chunk)
        self.state.log.append({"method": "PATCH-bytes", "path": upload_id, "status": 0, "bytes": len(chunk)})
        if last and not self._store(upload.bucket, upload.name, bytes(upload.data), upload.mime,
                                    self.headers.get("x-upsert") == "true"):
            return
        self._send(204, None, {"Upload-Offset": str(len(upload.data)), "Tus-Resumable": "1.0.0"})

    # -- PostgREST ---------------------------------------------------------------------------------

    def _rest(self, table: str) -> None:
        postgrest.handle(self, table)


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

    def fault(self, method: str, path: str, action: str, times: int = 1, skip: int = 0) -> None:
        self.state.faults.append(Fault(method, re.compile(path), action, times, skip))

    def count(self, method: str, path: str = "") -> int:
        return sum(1 for e in self.state.log if e["method"] == method and path in e["path"]
                   and isinstance(e["status"], int) and e["status"] < 300)
