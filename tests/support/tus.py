"""Storage's resumable (TUS) endpoint as the test server answers it: @tus/server's PostHandler and
PatchHandler with the hooks supabase/storage installs (src/http/routes/tus/index.ts, lifecycle.ts).

- Create: the bucket is found first (the `maxSize` hook, 404), then the length is checked against the
  limit (413 "Maximum size exceeded"), then `onIncomingRequest` (`canUpload`: a valid key, and an
  existing object only with `x-upsert: true`, else 409), then `onCreate` (the MIME type, 415).
- `x-upsert` is read on every request, not only on creation; HEAD is not checked.
- Any chunk size is taken (6 MB is supabase-js's choice, not the server's rule).
- Errors are plain text with the real status (`onResponseError` renders the message); an unknown
  upload is 404, an expired one 410 (the expiration extension), a wrong offset 409.
- The upload URL is the base64url of bucket/object/version, as `generateUrl` builds it.
- Every request but OPTIONS needs `Tus-Resumable` (412, with `Tus-Version`, as @tus/server's `handle`
  answers); a PATCH whose body is not `application/offset+octet-stream` is 415; HEAD tells
  `Upload-Expires` (the expiration extension).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from tests.support.storage import StorageError, check_key, check_mime, find_bucket, size_limit, store


@dataclass
class Upload:
    bucket: str
    name: str
    mime: str
    length: int
    cache: str
    expires_at: float
    data: bytearray = field(default_factory=bytearray)


def _text(h: Any, status: int, text: str) -> None:
    h._send(status, text.encode(), {"Content-Type": "text/plain", "Tus-Resumable": "1.0.0"})


def _metadata(h: Any) -> dict[str, str]:
    items = [item.split(" ", 1) for item in h.headers.get("upload-metadata", "").split(",") if " " in item]
    return {k: base64.b64decode(v).decode() for k, v in items}


def _may_write(h: Any, bucket: str, name: str) -> None:
    """lifecycle.ts onIncomingRequest -> Uploader.canUpload."""
    check_key(name)
    if (bucket, name) in h.state.objects and h.headers.get("x-upsert") != "true":
        raise StorageError("KeyAlreadyExists", name)


def create(h: Any) -> None:
    h._body()
    meta, length = _metadata(h), int(h.headers.get("upload-length", "0"))
    bucket, name = meta.get("bucketName", ""), meta.get("objectName", "")
    try:
        record = find_bucket(h.state, bucket)
        if length > size_limit(h.state, record):
            return _text(h, 413, "Maximum size exceeded\n")
        _may_write(h, bucket, name)
        check_mime(meta.get("contentType", ""), record["allowed_mime_types"])
    except StorageError as err:
        return _text(h, int(err.status), str(err))
    cache = meta.get("cacheControl", "")
    cache = f"max-age={cache}" if cache.lstrip("-").isdigit() else "no-cache"  # lifecycle.ts onCreate
    upload_id = base64.urlsafe_b64encode(f"{bucket}/{name}/{uuid.uuid4()}".encode()).decode().rstrip("=")
    expires = time.time() + h.state.upload_expires_s
    h.state.uploads[upload_id] = Upload(bucket, name, meta.get("contentType", ""), length, cache, expires)
    h._send(201, None, {"Location": f"http://{h.headers.get('host')}/storage/v1/upload/resumable/{upload_id}",
                        "Tus-Resumable": "1.0.0", "Upload-Expires": formatdate(expires, usegmt=True)})


def resume(h: Any, upload_id: str) -> None:
    """HEAD (where it stands) and PATCH (a chunk) on an upload."""
    chunk = h._body()
    upload = h.state.uploads.get(upload_id)
    if upload is None:
        return _text(h, 404, "The file for this url was not found\n")
    if upload.expires_at < time.time():  # @tus/server ERRORS.FILE_NO_LONGER_EXISTS
        return _text(h, 410, "The file for this url no longer exists\n")
    if h.command == "HEAD":
        return h._send(200, None, {"Upload-Offset": str(len(upload.data)), "Upload-Length": str(upload.length),
                                   "Tus-Resumable": "1.0.0", "Cache-Control": "no-store",
                                   "Upload-Expires": formatdate(upload.expires_at, usegmt=True)})
    if h.command != "PATCH":
        return _text(h, 405, "Method not allowed\n")
    try:
        _may_write(h, upload.bucket, upload.name)
    except StorageError as err:
        return _text(h, int(err.status), str(err))
    if int(h.headers.get("upload-offset", "-1")) != len(upload.data):
        return _text(h, 409, "Upload-Offset conflict\n")
    if len(upload.data) + len(chunk) > upload.length:
        return _text(h, 413, "Upload's size exceeded\n")
    upload.data.extend(chunk)
    h.state.log.append({"method": "PATCH-bytes", "path": upload_id, "status": 0, "bytes": len(chunk)})
    if len(upload.data) == upload.length:  # onUploadFinish -> completeUpload
        try:
            store(h.state, upload.bucket, upload.name, bytes(upload.data), upload.mime,
                  h.headers.get("x-upsert") == "true", upload.cache)
        except StorageError as err:
            return _text(h, int(err.status), str(err))
    h._send(204, None, {"Upload-Offset": str(len(upload.data)), "Tus-Resumable": "1.0.0"})


def handle(h: Any, upload_id: str) -> None:
    if h.command != "OPTIONS" and not h.headers.get("tus-resumable"):
        h._body()
        return h._send(412, b"Tus-Resumable Required\n", {"Content-Type": "text/plain", "Tus-Version": "1.0.0"})
    if h.command == "PATCH" and h.headers.get("content-type") != "application/offset+octet-stream":
        h._body()
        return _text(h, 415, "Invalid Content-Type header\n")
    if h.command == "POST" and not upload_id:
        return create(h)
    resume(h, upload_id)
