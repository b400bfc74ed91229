"""Input limits and text checks shared by every front door (SPEC §2 "Limits").

Every error names the JSON field in ``data["field"]`` (``title``, ``description``,
``reason``, ``tasks``, ``updates`` …) and, for an item of a batch, its 1-based position in
``data["item"]``; the sentence itself names no front door's syntax.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidArgument, ReasonRequired
from .text import describe_char, first_ill_formed, is_blank, normalize_newlines, refused_char

TITLE_MAX = 300  # characters
DESCRIPTION_MAX = 20_000  # characters
REASON_MAX = 2_000  # characters
BATCH_MAX = 500  # items per call


def _label(field: str, item: int | None) -> str:
    """How a sentence names the field: ``title``, or ``title of task 3`` in a batch."""
    return field if item is None else f"{field} of task {item}"


def _where(field: str, item: int | None) -> dict[str, Any]:
    return {"field": field} if item is None else {"field": field, "item": item}


def check_text(
    value: object, field: str, *, limit: int, allow_newline: bool = True, item: int | None = None
) -> str:
    """``value`` if it is well-formed text within ``limit`` characters that a field of its
    kind may hold (:func:`store.text.refused_char`). A multi-line field
    (``allow_newline``) has its line endings normalised first: ``\\r\\n`` and a lone
    ``\\r`` become ``\\n``.

    Raises:
        InvalidArgument: not text, not well-formed (a byte that is not UTF-8, half a
            surrogate pair: ``data.char``), too long (``data``: ``length``, ``limit``) or
            holding a character the field may not hold (``data.char``: ``U+XXXX``); ``data``
            always has ``field`` (and ``item`` in a batch).
    """
    label = _label(field, item)
    if not isinstance(value, str):
        raise InvalidArgument(f"The {label} must be text.", **_where(field, item))
    bad = first_ill_formed(value)
    if bad is not None:
        raise InvalidArgument(
            f"The {label} is not valid text: it holds {describe_char(value[bad])} "
            f"(at character {bad + 1}). Give it as UTF-8 text.",
            **_where(field, item),
            char=f"U+{ord(value[bad]):04X}",
            position=bad + 1,
        )
    if allow_newline:
        value = normalize_newlines(value)
    if len(value) > limit:
        raise InvalidArgument(
            f"The {label} is {len(value):,} characters long; the limit is {limit:,}. "
            "Shorten it and try again.",
            **_where(field, item),
            length=len(value),
            limit=limit,
        )
    ch = refused_char(value, one_line=not allow_newline)
    if ch is not None:
        kind = "a line break" if ch in "\n\r\v\f\x85\u2028\u2029" else "a control character"
        if ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            kind = "a bidirectional control (it would reorder the text around it)"
        one = "a choice" if field == "choices" else f"a {field}"
        where = f" ({one} is one line)" if kind == "a line break" else ""
        raise InvalidArgument(
            f"The {label} contains {kind}{where}: {describe_char(ch)} at character "
            f"{value.index(ch) + 1}; remove it and try again.",
            **_where(field, item),
            char=f"U+{ord(ch):04X}",
            position=value.index(ch) + 1,
        )
    return value


def check_title(value: object, field: str = "title", *, item: int | None = None) -> str:
    """A one-line, non-blank title of at most :data:`TITLE_MAX` characters.

    Raises:
        InvalidArgument: as :func:`check_text`, or blank.
    """
    text = check_text(value, field, limit=TITLE_MAX, allow_newline=False, item=item)
    if is_blank(text):
        raise InvalidArgument(
            f"The {_label(field, item)} must not be blank (it shows no visible character).",
            **_where(field, item),
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
    if value is None or (isinstance(value, str) and is_blank(value)):
        raise ReasonRequired(f"A reason is required to {what}.", field="reason", **data)
    return check_text(value, "reason", limit=REASON_MAX)


def check_optional_reason(value: object, *, item: int | None = None) -> str | None:
    """``None``, or a non-blank reason.

    Raises:
        InvalidArgument: blank, or as :func:`check_text`.
    """
    if value is None:
        return None
    if isinstance(value, str) and is_blank(value):
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
            f"The {field} list has {len(items)} items; at most {BATCH_MAX} fit in one call. "
            "Split it.",
            field=field,
            length=len(items),
            limit=BATCH_MAX,
        )
    return items


QUESTION_MAX = 500  # characters: a short question
CHOICES_MAX = 10  # answer choices per question
CHOICE_MAX = 100  # characters per choice
ANSWER_MAX = 2_000  # characters


def check_question(value: object) -> str:
    """A short, one-line, non-blank question of at most :data:`QUESTION_MAX` characters.

    Raises:
        InvalidArgument: as :func:`check_text`, or blank (``field="question"``).
    """
    text = check_text(value, "question", limit=QUESTION_MAX, allow_newline=False)
    if is_blank(text):
        raise InvalidArgument("The question must not be blank.", field="question")
    return text


def check_choices(values: object) -> tuple[str, ...]:
    """At most :data:`CHOICES_MAX` distinct, one-line, non-blank choices.

    Raises:
        InvalidArgument: not a list of text, too many, a repeated, blank or bad one
            (``field="choices"``, ``item`` for one of them).
    """
    if values is None:
        return ()
    if not isinstance(values, (list, tuple)):
        raise InvalidArgument("The choices must be a list of text.", field="choices")
    if len(values) > CHOICES_MAX:
        raise InvalidArgument(
            f"Give at most {CHOICES_MAX} choices (there are {len(values)}); the operator "
            "can always answer in their own words.",
            field="choices",
            length=len(values),
            limit=CHOICES_MAX,
        )
    out: list[str] = []
    for n, value in enumerate(values, 1):
        text = check_text(value, "choices", limit=CHOICE_MAX, allow_newline=False)
        if is_blank(text):
            raise InvalidArgument(f"Choice {n} is blank.", field="choices", item=n)
        if text in out:
            raise InvalidArgument(f"Choice {n} repeats another.", field="choices", item=n)
        out.append(text)
    return tuple(out)


def check_answer(value: object) -> str:
    """A non-blank answer of at most :data:`ANSWER_MAX` characters (several lines).

    Raises:
        InvalidArgument: absent, blank, or as :func:`check_text` (``field="answer"``).
    """
    if value is None or (isinstance(value, str) and is_blank(value)):
        raise InvalidArgument(
            "Give an answer: one of the choices or your own words.", field="answer"
        )
    return check_text(value, "answer", limit=ANSWER_MAX)
