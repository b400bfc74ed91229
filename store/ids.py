"""Identifiers: ULID session ids (Crockford base32) and short task ids."""

from __future__ import annotations

import os
from collections.abc import Container
from datetime import datetime

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TASK_ID_LENGTH = 6
TASK_ID_MAX = 8


def new_ulid(at: datetime) -> str:
    """A 26-character ULID: 48 bits of Unix milliseconds, then 80 random bits."""
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_ulid(text: str) -> bool:
    return len(text) == 26 and text[0] in "01234567" and all(c in CROCKFORD for c in text)


def new_task_id(taken: Container[str]) -> str:
    """A short lowercase hex id not in ``taken``; grows past 6 characters only on collision."""
    length = TASK_ID_LENGTH
    while True:
        for _ in range(8):
            candidate = os.urandom(4).hex()[:length]
            if candidate not in taken:
                return candidate
        length = min(length + 1, TASK_ID_MAX)
