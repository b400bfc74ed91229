"""Text as np accepts, stores and shows it: well-formed Unicode, defined by categories.

Text reaches np from argv, environment variables, directory names and JSON strings, and any
of them may carry what is not clean UTF-8: a byte that is not UTF-8 (Python hands it over as
a lone surrogate U+DC80–U+DCFF, PEP 383), or half of a JSON surrogate pair (``"\\ud83d"``).
SQLite, JSON and terminals take neither, so np refuses such text where a person wrote it
(titles, descriptions, reasons — naming the field and the byte), and escapes it where the
system wrote it (paths, recorded command lines) with :func:`printable`.

"Blank" and "one line" are defined by Unicode categories, not by ``" "`` and ``"\\n"``:
a title of zero-width characters is blank, and U+2028 breaks a line as ``\\n`` does.
Stdlib only (``unicodedata``): on every write's import path.
"""

from __future__ import annotations

import unicodedata

# Characters that show nothing on their own although their category is a letter or symbol.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
# Explicit bidirectional formatting: they reorder the rest of a line in every viewer
# ("Trojan Source"), so a title could display as something else than what it says.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Everything that ends a line for some viewer (Unicode's mandatory breaks).
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def first_ill_formed(text: str) -> int | None:
    """Index of the first lone surrogate in ``text`` (text that cannot be UTF-8), else None."""
    if text.isascii():
        return None
    for i, ch in enumerate(text):
        if is_surrogate(ch):
            return i
    return None


def describe_char(ch: str) -> str:
    """How a message names one character: ``U+2028 LINE SEPARATOR``, ``the byte 0xE9``."""
    if "\udc80" <= ch <= "\udcff":
        return f"the byte 0x{ord(ch) - 0xDC00:02X}, which is not UTF-8"
    if is_surrogate(ch):
        return f"U+{ord(ch):04X}, half of a surrogate pair"
    name = unicodedata.name(ch, "")
    if not name:
        name = _CONTROL_NAMES.get(ch, "control" if unicodedata.category(ch) == "Cc" else "")
    return f"U+{ord(ch):04X} {name}".rstrip()


_CONTROL_NAMES = {
    "\x00": "NULL",
    "\x07": "BELL",
    "\x08": "BACKSPACE",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\v": "LINE TABULATION",
    "\f": "FORM FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


def printable(text: str) -> str:
    """``text`` made well-formed: each byte that was not UTF-8 becomes ``\\xNN`` and any
    other lone surrogate ``\\udNNN`` (Python's ``backslashreplace``); clean text is
    returned unchanged. For what np records or shows but did not ask a person to type:
    paths, command lines, values quoted in error messages."""
    if first_ill_formed(text) is None:
        return text
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif is_surrogate(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


_DISPLAY_LINE = {ord(c): " " for c in LINE_BREAKS} | {ord(c): None for c in BIDI_CONTROLS}


def one_line(text: str) -> str:
    """``text`` as one display line: every line break a space, bidirectional controls
    dropped. np refuses both in titles; this keeps titles stored before that (or by
    another tool) from splitting a plan line or reordering it in a viewer."""
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_DISPLAY_LINE)


def normalize_newlines(text: str) -> str:
    """Windows (``\\r\\n``) and old Mac (``\\r``) line endings become ``\\n``."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def refused_char(text: str, *, one_line: bool) -> str | None:
    """The first character a field may not hold, or None.

    Refused everywhere: lone surrogates, control characters (C0, DEL, C1) other than tab
    (and line feed where several lines are allowed) and bidirectional overrides and
    isolates. In a one-line field, also every line break (U+2028, U+2029, U+0085 …).
    """
    for ch in text:
        if ch.isascii():
            if ch >= " " and ch != "\x7f":
                continue
            if ch == "\t" or (ch == "\n" and not one_line):
                continue
            return ch
        if is_surrogate(ch) or ch in BIDI_CONTROLS or "\x80" <= ch <= "\x9f":
            return ch
        if one_line and ch in LINE_BREAKS:
            return ch
        if ch in ("\u2028", "\u2029"):  # in a description: a line break like \n
            continue
    return None


def is_blank(text: str) -> bool:
    """True when nothing in ``text`` would show: only separators (Z*), controls and
    formats (C*), combining marks with nothing to combine with (M*), and a few fillers
    that print as nothing (U+3164 HANGUL FILLER, U+2800 BRAILLE PATTERN BLANK …)."""
    for ch in text:
        if ch in _INVISIBLE:
            continue
        if is_surrogate(ch):
            return False  # not blank: ill-formed, and refused as such
        if unicodedata.category(ch)[0] not in "ZCM":
            return False
    return True


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` in at most ``limit`` characters, ending in ``ellipsis`` when cut. The cut
    never splits what a reader sees as one character: it backs off over combining marks,
    zero-width joiners, variation selectors and halves of a flag (regional indicators)."""
    if len(text) <= limit:
        return text
    cut = max(limit - len(ellipsis), 0)
    while 0 < cut < len(text) and _continues(text, cut):
        cut -= 1
    return text[:cut] + ellipsis


def shorten_start(text: str, limit: int, ellipsis: str = "…") -> str:
    """Like :func:`shorten`, but keeps the end (a long path: its last folders)."""
    if len(text) <= limit:
        return text
    start = len(text) - max(limit - len(ellipsis), 0)
    while 0 < start < len(text) and _continues(text, start):
        start += 1
    return ellipsis + text[start:]


def _continues(text: str, i: int) -> bool:
    """Does ``text[i]`` belong to the same visible character as ``text[i - 1]``?"""
    ch, before = text[i], text[i - 1]
    if before == "\u200d" or ch == "\u200d":
        return True
    if unicodedata.category(ch) in ("Mn", "Me", "Mc"):
        return True
    if "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef":
        return True
    if "\U0001f3fb" <= ch <= "\U0001f3ff":  # skin tone modifiers
        return True
    if "\U000e0020" <= ch <= "\U000e007f":  # tag sequences (subdivision flags)
        return True
    if _regional(ch) and _regional(before):
        # a flag is a pair: cut between pairs only
        run = 0
        j = i - 1
        while j >= 0 and _regional(text[j]):
            run += 1
            j -= 1
        return run % 2 == 1
    return False


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


__all__ = [
    "BIDI_CONTROLS",
    "LINE_BREAKS",
    "describe_char",
    "first_ill_formed",
    "is_blank",
    "normalize_newlines",
    "one_line",
    "printable",
    "refused_char",
    "shorten",
    "shorten_start",
]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in agreement: ``1 session``, ``2 sessions``, ``0 sessions``
    (``plural`` where adding an s is wrong: ``counted(2, "entry", "entries")``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
