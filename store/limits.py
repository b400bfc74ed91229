"""Input limits and text checks shared by every front door (SPEC §2 "Limits").

Every error names the JSON field in ``data["field"]`` (``title``, ``description``,
``reason``, ``tasks``, ``updates`` …) and, for an item of a batch, its 1-based position in
``data["item"]``; the sentence itself names no front door's syntax.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgument, ReasonRequired

TITLE_MAX = 300  # characters
DESCRIPTION_MAX = 20_000  # characters
REASON_MAX = 2_000  # characters
BATCH_MAX = 500  # items per call


def _has_bad_control(text: str, allow_newline: bool) -> bool:
    for ch in text:
        if ch < " " or "\x7f" <= ch <= "\x9f":
            if ch == "\t" or (ch == "\n" and allow_newline):
                continue
            return True
    return False


def _label(field: str, item: int | None) -> str:
    """How a sentence names the field: ``title``, or ``title of task 3`` in a batch."""
    return field if item is None else f"{field} of task {item}"


def _where(field: str, item: int | None) -> dict[str, Any]:
    return {"field": field} if item is None else {"field": field, "item": item}


def check_text(
    value: object, field: str, *, limit: int, allow_newline: bool = True, item: int | None = None
) -> str:
    """``value`` if it is text within ``limit`` characters without control characters.

    Raises:
        InvalidArgument: not text, too long (``data``: ``length``, ``limit``) or with
            control characters; ``data`` always has ``field`` (and ``item`` in a batch).
    """
    label = _label(field, item)
    if not isinstance(value, str):
        raise InvalidArgument(f"The {label} must be text.", **_where(field, item))
    if len(value) > limit:
        raise InvalidArgument(
            f"The {label} is {len(value):,} characters long; the limit is {limit:,}. "
            "Shorten it and try again.",
            **_where(field, item),
            length=len(value),
            limit=limit,
        )
    if _has_bad_control(value, allow_newline):
        what = "control characters" if allow_newline else "line breaks or control characters"
        raise InvalidArgument(
            f"The {label} contains {what}; remove them and try again.", **_where(field, item)
        )
    return value


def check_title(value: object, field: str = "title", *, item: int | None = None) -> str:
    """A one-line, non-blank title of at most :data:`TITLE_MAX` characters.

    Raises:
        InvalidArgument: as :func:`check_text`, or blank.
    """
    text = check_text(value, field, limit=TITLE_MAX, allow_newline=False, item=item)
    if not text.strip():
        raise InvalidArgument(
            f"The {_label(field, item)} must not be blank.", **_where(field, item)
        )
    return text


def check_description(value: object, field: str = "description", *, item: int | None = None) -> str:
    """A description of at most :data:`DESCRIPTION_MAX` characters (may be empty)."""
    return check_text(value, field, limit=DESCRIPTION_MAX, item=item)


def check_reason(value: object, what: str, **data: Any) -> str:
    """A reason is required here: absent or blank is ``reason_required``.

    ``what`` completes "A reason is required to …"; ``data`` adds the specifics a front
    door needs for its own next step (``action``, ``id``, ``status``, ``item``).

    Raises:
        ReasonRequired: absent or blank (``data``: ``field="reason"`` plus ``data``).
        InvalidArgument: as :func:`check_text`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ReasonRequired(f"A reason is required to {what}.", field="reason", **data)
    return check_text(value, "reason", limit=REASON_MAX)


def check_optional_reason(value: object, *, item: int | None = None) -> str | None:
    """``None``, or a non-blank reason.

    Raises:
        InvalidArgument: blank, or as :func:`check_text`.
    """
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        raise InvalidArgument(
            "The reason must not be blank; leave it out or say why.", **_where("reason", item)
        )
    return check_text(value, "reason", limit=REASON_MAX)


def check_batch(items: object, field: str) -> list[object]:
    """A non-empty list of at most :data:`BATCH_MAX` items.

    Raises:
        InvalidArgument: not a list, empty, or too long (``data``: ``field``, and
            ``length``/``limit`` when too long).
    """
    if not isinstance(items, list):
        raise InvalidArgument(f"The {field} must be a list.", field=field)
    if not items:
        raise InvalidArgument(f"The {field} must not be empty.", field=field)
    if len(items) > BATCH_MAX:
        raise InvalidArgument(
            f"The {field} has {len(items)} items; at most {BATCH_MAX} fit in one call. Split it.",
            field=field,
            length=len(items),
            limit=BATCH_MAX,
        )
    return items
