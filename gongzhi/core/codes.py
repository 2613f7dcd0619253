"""Rotating codes shown as a QR code on a screen in the room (an activity's check-in, a meeting's sign-in):
six digits from an HMAC of the thing's own secret and the time window, so a code photographed and sent away
stops working within minutes. The previous window's code is still accepted, so that a code scanned just
before it turns over works."""

import datetime
import hashlib
import hmac

from django.conf import settings
from django.utils import timezone

CODE_WINDOW_SECONDS = 180


def rotating_code(secret: str, *, now: datetime.datetime | None = None, window_offset: int = 0) -> str:
    now = now or timezone.now()
    window = int(now.timestamp()) // CODE_WINDOW_SECONDS + window_offset
    digest = hmac.new(f"{settings.SECRET_KEY}:{secret}".encode(), str(window).encode(), hashlib.sha256)
    return f"{int(digest.hexdigest()[:12], 16) % 1_000_000:06d}"


def rotating_code_valid(secret: str, code: str, *, now: datetime.datetime | None = None) -> bool:
    code = (code or "").strip()
    return any(
        hmac.compare_digest(code, rotating_code(secret, now=now, window_offset=offset)) for offset in (0, -1)
    )
