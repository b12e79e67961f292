"""What Supabase Storage accepts as a bucket name and an object key, checked before a request is sent,
so a bad name is one clear error instead of a 400 per file.

The rules are Storage's own: `isValidKey` and `isValidBucketName` in supabase/storage
src/storage/limits.ts (S3's safe characters plus a few that need special handling; a bucket name has no
slash). JavaScript's `\\w` there is ASCII only, hence the explicit classes.
"""

from __future__ import annotations

import re
import uuid

from ourvidz_cli.errors import OurvidzError, UsageError

_SAFE = "A-Za-z0-9_!\\-.*'() &$@=;:+,?"
_KEY = re.compile(f"[{_SAFE}/]+")
_BUCKET = re.compile(f"[{_SAFE}]+")


def check_bucket(name: str) -> str:
    if not _BUCKET.fullmatch(name):
        raise OurvidzError(f"bucket name {name!r} is not one Supabase Storage accepts (letters, digits and "
                           f"_!-.*'() &$@=;:+,? only, no slash); rename the bucket in models.toml")
    return name


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or "//" in key or key.startswith("/"):
        raise OurvidzError(f"object key {key!r} is not one Supabase Storage accepts (letters, digits and "
                           f"_/!-.*'() &$@=;:+,? only)")
    return key


def check_owner(value: str) -> str:
    """OURVIDZ_SUPABASE_USER_ID: the auth user's UUID, which the seed's rows and folders are keyed on."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise UsageError(f"OURVIDZ_SUPABASE_USER_ID {value!r} is not a UUID; set it to the id of the auth user "
                         "that should own the rows (Supabase dashboard: Authentication, Users)") from None
