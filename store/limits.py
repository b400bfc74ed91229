"""Input limits and text checks shared by every front door (SPEC §2 "Limits")."""

from __future__ import annotations

from .errors import InvalidArgument, ReasonRequired

TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
REASON_MAX = 2_000
BATCH_MAX = 500

_ALLOWED_CONTROLS = {"\n", "\t"}


def _has_bad_control(text: str, allow_newline: bool) -> bool:
    for ch in text:
        if ch < " " or "\x7f" <= ch <= "\x9f":
            if ch == "\t" or (ch == "\n" and allow_newline):
                continue
            return True
    return False


def check_text(value: object, field: str, *, limit: int, allow_newline: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"The {field} must be text.", field=field)
    if len(value) > limit:
        raise InvalidArgument(
            f"The {field} is {len(value):,} characters long; the limit is {limit:,}. "
            "Shorten it and try again.",
            field=field,
        )
    if _has_bad_control(value, allow_newline):
        what = "control characters" if allow_newline else "line breaks or control characters"
        raise InvalidArgument(
            f"The {field} contains {what}; remove them and try again.", field=field
        )
    return value


def check_title(value: object, field: str = "title") -> str:
    text = check_text(value, field, limit=TITLE_MAX, allow_newline=False)
    if not text.strip():
        raise InvalidArgument(f"The {field} must not be blank.", field=field)
    return text


def check_description(value: object, field: str = "description") -> str:
    return check_text(value, field, limit=DESCRIPTION_MAX)


def check_reason(value: object, what: str) -> str:
    """A reason is required here: absent or blank is ``reason_required``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ReasonRequired(
            f'A reason is required to {what}; give one with -r/--reason ("reason" over JSON).',
            field="reason",
        )
    return check_text(value, "reason", limit=REASON_MAX)


def check_optional_reason(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        raise InvalidArgument(
            "The reason must not be blank; leave it out or say why.", field="reason"
        )
    return check_text(value, "reason", limit=REASON_MAX)


def check_batch(items: object, field: str) -> list[object]:
    if not isinstance(items, list):
        raise InvalidArgument(f"{field} must be a list.", field=field)
    if not items:
        raise InvalidArgument(f"{field} must not be empty.", field=field)
    if len(items) > BATCH_MAX:
        raise InvalidArgument(
            f"{field} has {len(items)} items; at most {BATCH_MAX} fit in one call. Split it.",
            field=field,
        )
    return items
