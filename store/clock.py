"""Time: an injectable clock, UTC normalisation and the RFC 3339 text form np stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def ensure_utc(at: datetime) -> datetime:
    """Return ``at`` in UTC; a naive time is taken to be UTC already."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def format_time(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds: fixed width, so the text sorts as time does."""
    return ensure_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
