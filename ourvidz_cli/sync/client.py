"""A thin Supabase client on httpx: Storage (simple and TUS resumable uploads, buckets, signed URLs)
and PostgREST upserts, with retries that follow how the servers actually answer.

Storage answers most errors with HTTP 400 and the real code in the body (`{"statusCode": "409", ...}`),
so errors branch on the body's code. Timeouts, dropped connections, 429 and 5xx are retried with
exponential backoff and jitter; other 4xx are not. The key never appears in an error message.
"""

from __future__ import annotations

import base64
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ourvidz_cli.errors import OurvidzError, UsageError

TUS_CHUNK = 6 * 2**20  # Supabase's resumable endpoint takes 6 MB chunks (the last may be shorter)
RESUMABLE_ABOVE = 6 * 2**20
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class SupabaseConfig:
    url: str
    key: str
    owner: str

    @classmethod
    def from_env(cls) -> SupabaseConfig:
        url = os.environ.get("SUPABASE_URL", "").rstrip("/")
        key = os.environ.get("SUPABASE_SERVICE_KEY", "")
        if not url or not key:
            raise UsageError("sync needs SUPABASE_URL and SUPABASE_SERVICE_KEY in the environment "
                             "(the project's URL and its service-role or sb_secret_ key)")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"SUPABASE_URL '{url}' must start with https:// (or http:// for a local stack)")
        return cls(url=url, key=key, owner=cls.owner_from_env())

    @staticmethod
    def owner_from_env() -> str:
        """The auth user that owns the rows and the storage folder (a UUID), or the zero UUID."""
        from ourvidz_cli.sync.keys import check_owner

        return check_owner(os.environ.get("OURVIDZ_SUPABASE_USER_ID", "").strip() or str(uuid.UUID(int=0)))


class SupabaseError(OurvidzError):
    """A request Supabase refused; `code` is Storage's body statusCode or the HTTP status."""

    def __init__(self, message: str, code: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.code, self.retryable = code, retryable


class Client:
    def __init__(self, config: SupabaseConfig, timeout: float = 30.0, retries: int = 5, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.retries, self.backoff_s, self.sleep = retries, backoff_s, sleep
        headers = {"apikey": config.key}
        # Legacy JWT keys (anon, service_role) go in Authorization too; the newer sb_secret_ keys must not.
        if config.key.startswith("eyJ"):
            headers["Authorization"] = f"Bearer {config.key}"
        self.http = httpx.Client(base_url=config.url, headers=headers, timeout=timeout)

    def _scrub(self, text: str) -> str:
        return text.replace(self.config.key, "***") if self.config.key else text

    def _error(self, resp: httpx.Response, what: str) -> SupabaseError:
        code, message = str(resp.status_code), resp.text[:300]
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code = str(body.get("statusCode") or body.get("code") or resp.status_code)
            message = str(body.get("message") or body.get("error") or message)
        retryable = resp.status_code in RETRY_STATUS or code in {"429", "500", "502", "503", "504"}
        return SupabaseError(self._scrub(f"{what}: {code} {message}".strip()), code, retryable)

    def request(self, method: str, path: str, what: str, ok: tuple[int, ...] = (200, 201, 204),
                **kwargs: Any) -> httpx.Response:
        """One call with retries; returns the response or raises SupabaseError / OurvidzError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self.http.request(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt > self.retries:
                    raise OurvidzError(self._scrub(
                        f"{what}: no answer from {self.config.url} after {attempt} tries ({type(exc).__name__})"
                    )) from None
                self._backoff(attempt, None)
                continue
            if resp.status_code in ok:
                return resp
            error = self._error(resp, what)
            if error.retryable and attempt <= self.retries:
                self._backoff(attempt, resp.headers.get("retry-after"))
                continue
            raise error

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_s * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        self.sleep(min(delay, 30.0) * (0.5 + random.random()))  # full jitter around the exponential step

    # -- storage -----------------------------------------------------------------------------------

    def buckets(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/storage/v1/bucket", "listing buckets").json())

    def create_bucket(self, name: str, public: bool, max_bytes: int | None, mime: list[str]) -> bool:
        """True if created, False if it already existed. A limit above the project's global upload
        limit is refused with 413 (raised as SupabaseError with code '413')."""
        body: dict[str, Any] = {"id": name, "name": name, "public": public, "allowed_mime_types": mime or None}
        if max_bytes:
            body["file_size_limit"] = max_bytes
        try:
            self.request("POST", "/storage/v1/bucket", f"creating bucket {name}", json=body)
        except SupabaseError as exc:
            if exc.code == "409":
                return False
            raise
        return True

    def upload(self, bucket: str, path: str, file: Path, mime: str) -> None:
        """Simple upload (whole body in one request), overwriting what is there."""
        with open(file, "rb") as fh:
            data = fh.read()
        self.request("POST", f"/storage/v1/object/{bucket}/{path}", f"uploading {bucket}/{path}", content=data,
                     headers={"Content-Type": mime, "x-upsert": "true", "cache-control": "max-age=3600"})

    def tus_create(self, bucket: str, path: str, size: int, mime: str) -> str:
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in (
            ("bucketName", bucket), ("objectName", path), ("contentType", mime), ("cacheControl", "3600")))
        resp = self.request("POST", "/storage/v1/upload/resumable", f"starting upload of {bucket}/{path}",
                            headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size), "Upload-Metadata": meta,
                                     "x-upsert": "true"})
        location = resp.headers.get("location")
        if not location:
            raise OurvidzError(f"starting upload of {bucket}/{path}: the server gave no upload location")
        return location

    def tus_offset(self, location: str) -> int | None:
        """Bytes the server already holds for an upload, or None when it no longer knows the upload."""
        try:
            resp = self.request("HEAD", location, "checking an upload",
                                headers={"Tus-Resumable": "1.0.0", "x-upsert": "true"})
        except SupabaseError as exc:
            if exc.code in {"404", "410", "403"}:
                return None
            raise
        return int(resp.headers.get("upload-offset", "0"))

    def tus_patch(self, location: str, offset: int, chunk: bytes) -> int:
        # Storage reads x-upsert on every TUS request, not only on creation: without it each chunk for
        # an object that already exists is refused with 409.
        resp = self.request("PATCH", location, "uploading a chunk", content=chunk, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), "x-upsert": "true",
            "Content-Type": "application/offset+octet-stream"})
        return int(resp.headers.get("upload-offset", offset + len(chunk)))

    def sign(self, bucket: str, path: str, expires_s: int) -> str:
        resp = self.request("POST", f"/storage/v1/object/sign/{bucket}/{path}", f"signing {bucket}/{path}",
                            json={"expiresIn": expires_s})
        signed = resp.json().get("signedURL") or resp.json().get("signedUrl")
        if not signed:
            raise OurvidzError(f"signing {bucket}/{path}: the answer held no URL")
        return signed if signed.startswith("http") else f"{self.config.url}/storage/v1{signed}"

    # -- database ----------------------------------------------------------------------------------

    def upsert(self, table: str, rows: list[dict[str, Any]], on_conflict: str = "id") -> None:
        self.request("POST", f"/rest/v1/{table}", f"writing {table}", params={"on_conflict": on_conflict},
                     json=rows, headers={"Prefer": "resolution=merge-duplicates,return=minimal"})


def client_from_env(config: SupabaseConfig) -> Client:
    """A client with the environment's timeout, retries and backoff (OURVIDZ_SUPABASE_*)."""
    import os

    env = os.environ
    return Client(config, timeout=float(env.get("OURVIDZ_SUPABASE_TIMEOUT", "30")),
                  retries=int(env.get("OURVIDZ_SUPABASE_RETRIES", "5")),
                  backoff_s=float(env.get("OURVIDZ_SUPABASE_BACKOFF", "0.5")))
