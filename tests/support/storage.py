"""The Storage side of the Supabase test server: buckets, objects and signed URLs, answered as
supabase/storage answers them (each rule names the source file it follows).

Errors are StorageBackendError renders (src/internal/errors/codes.ts, storage-error.ts): a body
{statusCode, code, error, message} sent with HTTP 400, or 500 for a 500 (src/http/error-handler.ts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

SIGNING_SECRET = b"fake-storage-signing-secret"
# src/storage/limits.ts isValidKey / isValidBucketName (JavaScript's \w is ASCII only).
VALID_KEY = re.compile(r"[A-Za-z0-9_/!\-.*'() &$@=;:+,?]*")
VALID_BUCKET = re.compile(r"[A-Za-z0-9_!\-.*'() &$@=;:+,?]*")
# src/storage/storage.ts validateMimeType (bucket create) and limits.ts parseFileSizeToBytes.
VALID_MIME = re.compile(r"^([a-zA-Z0-9\-+.]+)/([a-zA-Z0-9\-+.]+)(;\s*charset=[a-zA-Z0-9\-]+)?$|\*$")
SIZE_WITH_UNIT = re.compile(r"(^[0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$", re.IGNORECASE)
UNIT = {"GB": 10**9, "MB": 10**6, "KB": 1000, "B": 1}

# codes.ts ERRORS: code -> (statusCode, the backwards-compatible `error`, message)
ERRORS = {
    "NoSuchBucket": ("404", "Bucket not found", "Bucket not found"),
    "NoSuchKey": ("404", "not_found", "Object not found"),
    "EntityTooLarge": ("413", "Payload too large", "The object exceeded the maximum allowed size"),
    "InvalidMimeType": ("415", "invalid_mime_type", "mime type {} is not supported"),
    "InvalidKey": ("400", "InvalidKey", "Invalid key: {}"),
    "InvalidBucketName": ("400", "Invalid Input", "Bucket name invalid"),
    "InvalidRequest": ("400", "InvalidRequest", "{}"),
    "BucketAlreadyExists": ("409", "Duplicate", "The resource already exists"),
    "KeyAlreadyExists": ("409", "Duplicate", "The resource already exists"),
    "InvalidJWT": ("400", "InvalidJWT", "{}"),
}


class StorageError(Exception):
    def __init__(self, code: str, arg: str = "") -> None:
        status, error, message = ERRORS[code]
        super().__init__(message.format(arg))
        self.code, self.status, self.error = code, status, error

    def body(self) -> dict[str, str]:
        return {"statusCode": self.status, "code": self.code, "error": self.error, "message": str(self)}


def send_error(h: Any, err: StorageError) -> None:
    h._send(500 if err.status == "500" else 400, err.body())


def bucket_record(name: str, public: bool = False, limit: int | None = None,
                  mime: list[str] | None = None) -> dict[str, Any]:
    """A bucket as GET /bucket lists it (src/http/routes/bucket/getAllBuckets.ts columns)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {"id": name, "name": name, "owner": "", "public": public, "file_size_limit": limit,
            "allowed_mime_types": mime, "created_at": now, "updated_at": now, "type": "STANDARD"}


def check_key(name: str) -> None:
    if not name or not VALID_KEY.fullmatch(name):  # limits.ts mustBeValidKey
        raise StorageError("InvalidKey", name)


def check_mime(mime: str, allowed: list[str] | None) -> None:
    """src/storage/uploader.ts validateMimeType: `type/*` takes every subtype."""
    if not allowed:
        return
    kind, _, sub = mime.partition("/")
    for entry in allowed:
        a_kind, _, a_sub = entry.partition("/")
        if a_kind == kind and a_sub in ("*", sub):
            return
    raise StorageError("InvalidMimeType", mime)


def size_limit(state: Any, bucket: dict[str, Any]) -> int:
    """uploader.ts getStandardMaxFileSizeLimit: the bucket's limit, capped by the project's."""
    limit = bucket.get("file_size_limit")
    return min(limit, state.global_limit) if isinstance(limit, int) else state.global_limit


def find_bucket(state: Any, name: str) -> dict[str, Any]:
    bucket = state.buckets.get(name)
    if bucket is None:
        raise StorageError("NoSuchBucket", name)
    return bucket


def parse_limit(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    match = SIZE_WITH_UNIT.match(str(value))
    if not match:
        raise StorageError("InvalidRequest", "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")
    return int(float(f"{float(match[1]):.3g}") * UNIT[match[2].upper()])


# -- buckets ---------------------------------------------------------------------------------------

def buckets(h: Any, rest: str) -> None:
    """/bucket and /bucket/{id}: list, get, create (src/http/routes/bucket/*.ts)."""
    body = h._body()
    try:
        if h.command == "GET" and not rest:
            return h._send(200, list(h.state.buckets.values()))
        if h.command == "GET":
            return h._send(200, find_bucket(h.state, unquote(rest)))
        if h.command == "POST" and not rest:
            return h._send(200, {"name": create_bucket(h.state, json.loads(body or b"{}"))})
    except StorageError as err:
        return send_error(h, err)
    h._send(404, {"statusCode": "404", "error": "Not Found", "message": "Route not found"})


def create_bucket(state: Any, spec: dict[str, Any]) -> str:
    name = spec.get("id") or spec.get("name")
    if not isinstance(name, str) or not name or not VALID_BUCKET.fullmatch(name):
        raise StorageError("InvalidBucketName", str(name))
    limit = parse_limit(spec.get("file_size_limit"))
    if limit is not None and limit > state.global_limit:  # storage.ts parseMaxSizeLimit
        raise StorageError("EntityTooLarge")
    mime = spec.get("allowed_mime_types") or None
    for entry in mime or []:
        if len(entry) > 1000 or not VALID_MIME.search(entry):  # unanchored, as JavaScript matches
            raise StorageError("InvalidMimeType", entry)
    with state.lock:
        if name in state.buckets:
            raise StorageError("BucketAlreadyExists", name)
        state.buckets[name] = bucket_record(name, bool(spec.get("public")), limit, mime)
    return name


# -- objects ---------------------------------------------------------------------------------------

def incoming_file(h: Any, body: bytes) -> tuple[bytes, str, str]:
    """uploader.ts incomingFileInfo: (data, mime, cache-control) from a multipart form or a raw body."""
    ctype = h.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return body, ctype or "application/octet-stream", h.headers.get("cache-control") or "no-cache"
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    fields: dict[str, str] = {}
    data, mime = None, "application/octet-stream"
    for part in message.iter_parts():
        if part.get_filename() is not None:
            data, mime = part.get_payload(decode=True), part.get_content_type()
        else:
            fields[str(part.get_param("name", header="content-disposition"))] = str(part.get_content())
    if data is None:
        raise StorageError("InvalidRequest", "No content provided")
    cache = fields.get("cacheControl")
    return data, fields.get("contentType") or mime, f"max-age={cache}" if cache else "no-cache"


def store(state: Any, bucket: str, name: str, data: bytes, mime: str, upsert: bool, cache: str | None) -> None:
    with state.lock:
        if (bucket, name) in state.objects and not upsert:
            raise StorageError("KeyAlreadyExists", name)
        state.objects[(bucket, name)] = (data, mime)
        state.cache_control[(bucket, name)] = cache  # stored and served back as sent


def objects(h: Any, rest: str) -> None:
    """/object/...: upload (POST, PUT), download (GET, also /authenticated/), delete one or many."""
    body = h._body()
    rest = rest.removeprefix("authenticated/") if h.command == "GET" else rest
    bucket, _, name = rest.partition("/")
    name = unquote(name)  # Storage decodes the path before checking the key
    try:
        if h.command in ("POST", "PUT"):
            return _upload(h, bucket, name, body)
        if h.command == "GET":
            find_bucket(h.state, bucket)
            if (bucket, name) not in h.state.objects:
                raise StorageError("NoSuchKey", name)
            data, mime = h.state.objects[(bucket, name)]
            return h._send(200, data, {"Content-Type": mime,
                                       "Cache-Control": h.state.cache_control.get((bucket, name)) or "no-cache"})
        if h.command == "DELETE":
            return _delete(h, bucket, name, body)
    except StorageError as err:
        return send_error(h, err)
    h._send(404, {"statusCode": "404", "error": "Not Found", "message": "Route not found"})


def _upload(h: Any, bucket: str, name: str, body: bytes) -> None:
    check_key(name)
    record = find_bucket(h.state, bucket)
    data, mime, cache = incoming_file(h, body)
    check_mime(mime, record["allowed_mime_types"])  # the type is checked before the size (uploader.ts upload)
    if len(data) > size_limit(h.state, record):
        raise StorageError("EntityTooLarge")
    store(h.state, bucket, name, data, mime, h.headers.get("x-upsert") == "true" or h.command == "PUT", cache)
    h._send(200, {"Key": f"{bucket}/{name}", "Id": str(uuid.uuid4())})


def _delete(h: Any, bucket: str, name: str, body: bytes) -> None:
    """deleteObject.ts (one key) and deleteObjects.ts ({"prefixes": [...]}: the objects it removed)."""
    find_bucket(h.state, bucket)
    names = [name] if name else list(json.loads(body or b"{}").get("prefixes") or [])
    removed = []
    with h.state.lock:
        for key in names:
            if h.state.objects.pop((bucket, key), None) is not None:
                h.state.cache_control.pop((bucket, key), None)
                removed.append({"name": key, "bucket_id": bucket})
    if name and not removed:
        raise StorageError("NoSuchKey", name)
    h._send(200, {"message": "Successfully deleted"} if name else removed)


# -- signed URLs -----------------------------------------------------------------------------------

def _token(bucket: str, name: str, exp: int) -> str:
    sig = hmac.new(SIGNING_SECRET, f"{bucket}/{name}|{exp}".encode(), hashlib.sha256).digest()
    return f"{exp}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


def sign(h: Any, rest: str) -> None:
    """getSignedURL.ts: expiresIn may come as a number or a string (storage3 sends a string)."""
    bucket, _, name = rest.partition("/")
    name = unquote(name)
    expires = int(json.loads(h._body() or b"{}").get("expiresIn", 60))
    if (bucket, name) not in h.state.objects:
        return send_error(h, StorageError("NoSuchKey", name))
    token = _token(bucket, name, int(time.time()) + expires)
    h._send(200, {"signedURL": f"/object/sign/{bucket}/{name}?token={token}"})


def serve_signed(h: Any) -> None:
    url = urlparse(h.path)
    bucket, _, name = url.path.removeprefix("/storage/v1/object/sign/").partition("/")
    name = unquote(name)
    token = parse_qs(url.query).get("token", [""])[0]
    exp = int(token.split(".")[0]) if token.split(".")[0].isdigit() else 0
    # getSignedObject.ts: the token is a JWT; jsonwebtoken's own messages come back as InvalidJWT.
    if not hmac.compare_digest(token, _token(bucket, name, exp)):
        return send_error(h, StorageError("InvalidJWT", "invalid signature"))
    if exp < time.time():
        return send_error(h, StorageError("InvalidJWT", "jwt expired"))
    data, mime = h.state.objects[(bucket, name)]
    h._send(200, data, {"Content-Type": mime})
