"""Keys of ``np m``: key names, and a parser for the bytes a terminal sends (CSI/SS3)."""

from __future__ import annotations

# -- keys ---------------------------------------------------------------------------------------

QUIT, UP, DOWN, PAGE_UP, PAGE_DOWN, HOME, END, DESCRIPTIONS, REDRAW, FOCUS, ANSWER = (
    "quit",
    "up",
    "down",
    "page_up",
    "page_down",
    "home",
    "end",
    "descriptions",
    "redraw",
    "focus",  # Tab: the scroll keys move the other pane (events ↔ tasks)
    "answer",  # a: answer the oldest open question of the plan on screen
)
# While an answer is typed the keys are text: ``text:<char>`` and these.
ENTER, BACKSPACE, CANCEL = "enter", "backspace", "cancel"
_PLAIN_KEYS = {
    "q": QUIT,
    "Q": QUIT,
    "\x03": QUIT,  # Ctrl-C when the terminal passes it through
    "k": UP,
    "j": DOWN,
    "b": PAGE_UP,
    " ": PAGE_DOWN,
    "g": HOME,
    "G": END,
    "d": DESCRIPTIONS,
    "D": DESCRIPTIONS,
    "\x0c": REDRAW,  # Ctrl-L
    "\t": FOCUS,
    "a": ANSWER,
    "A": ANSWER,
}
_FINAL_KEYS = {"A": UP, "B": DOWN, "H": HOME, "F": END, "Z": FOCUS}  # Z: Shift-Tab
_TILDE_KEYS = {"1": HOME, "7": HOME, "4": END, "8": END, "5": PAGE_UP, "6": PAGE_DOWN}


def parse_keys(data: bytes) -> tuple[list[str], bytes]:
    """Key names in ``data`` and the bytes of an unfinished escape sequence at its end.

    Understands CSI (``ESC [``) and SS3 (``ESC O``) sequences with or without modifiers
    (``ESC [1;5A``), as xterm, VT100 application mode and the Linux console send them.
    """
    keys: list[str] = []
    text = data.decode("latin-1")
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\x1b":
            if ch in _PLAIN_KEYS:
                keys.append(_PLAIN_KEYS[ch])
            i += 1
            continue
        if i + 1 >= len(text):
            return keys, data[i:]
        intro = text[i + 1]
        if intro == "O":
            if i + 2 >= len(text):
                return keys, data[i:]
            keys += [_FINAL_KEYS[text[i + 2]]] if text[i + 2] in _FINAL_KEYS else []
            i += 3
            continue
        if intro != "[":
            i += 1  # Alt-<key> or a lone ESC: ignored (the key itself is read next)
            continue
        j = i + 2
        while j < len(text) and not ("\x40" <= text[j] <= "\x7e"):
            j += 1
        if j >= len(text):
            return keys, data[i:]
        params, final = text[i + 2 : j], text[j]
        key = _TILDE_KEYS.get(params.split(";")[0]) if final == "~" else _FINAL_KEYS.get(final)
        if key:
            keys.append(key)
        i = j + 1
    return keys, b""


def parse_text(data: bytes) -> list[str]:
    """What a typed answer's bytes are: ``text:<char>`` for each printable character,
    ENTER, BACKSPACE, and CANCEL for Esc or Ctrl-C (an escape sequence, an arrow key, is
    dropped with it)."""
    keys: list[str] = []
    for ch in data.decode("utf-8", errors="ignore"):
        if ch in "\r\n":
            keys.append(ENTER)
        elif ch in "\x7f\x08":
            keys.append(BACKSPACE)
        elif ch in "\x1b\x03":
            keys.append(CANCEL)
            break
        elif ch.isprintable():
            keys.append("text:" + ch)
    return keys
