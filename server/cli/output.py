"""The one output path of every CLI program (np, np doctor, np backup, np m).

Results go to stdout (text, or compact JSON with ``--json``); errors go to stderr as one
``np: …`` line, or to stdout as ``{"error": {code, kind, message, data}}`` with ``--json``.
The CLI's own next step (flags and ``np`` commands, from ``server.text.hints``) is appended
here to the store's neutral sentence. Stdlib only until an error needs the hint table.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from server.exits import EXIT_DOMAIN, EXIT_USAGE, exit_code

if TYPE_CHECKING:
    from store import NpError

JSON = dict[str, Any]


def write(stream: Any, text: str) -> None:
    """Write ``text`` and a final newline (unless it has one)."""
    stream.write(text if text.endswith("\n") else text + "\n")


def out(text: str) -> None:
    write(sys.stdout, text)


def dump(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is (what ``--json`` prints)."""
    import json

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _error_json(code: int, kind: str, message: str, data: JSON) -> str:
    return dump({"error": {"code": code, "kind": kind, "message": message, "data": data}})


def cli_message(exc: NpError) -> str:
    """The store's neutral sentence plus the CLI's next step (flags, ``np`` commands)."""
    from server.text.hints import with_hint

    return with_hint(exc.message, "cli", exc.kind, exc.data)


def print_error(exc: NpError, as_json: bool) -> int:
    """Report a domain or storage error the CLI way; return the exit code for its kind."""
    message = cli_message(exc)
    if as_json:
        err = exc.to_dict()
        data = {**err["data"], "detail": exc.message}
        write(sys.stdout, _error_json(err["code"], err["kind"], message, data))
    else:
        write(sys.stderr, f"np: {message}")
    return exit_code(exc.kind)


def print_usage_error(message: str, as_json: bool) -> int:
    """A bad argv: ``invalid_argument`` (code 1007), exit 2."""
    if as_json:
        data = {"kind": "invalid_argument", "detail": message}
        write(sys.stdout, _error_json(1007, "invalid_argument", message, data))
    else:
        write(sys.stderr, f"np: {message}")
    return EXIT_USAGE


def print_internal_error(exc: BaseException, as_json: bool) -> int:
    """Anything unexpected: no traceback (unless NP_DEBUG), nothing half-written, exit 1."""
    if os.environ.get("NP_DEBUG"):
        raise exc
    message = (
        f"unexpected internal error ({type(exc).__name__}); nothing was left half-written. "
        "Run again with NP_DEBUG=1 to see details, and please report it."
    )
    if as_json:
        data = {"kind": "internal_error", "detail": message}
        write(sys.stdout, _error_json(1000, "internal_error", message, data))
    else:
        write(sys.stderr, f"np: {message}")
    return EXIT_DOMAIN


def setup_streams() -> None:
    """Make stdout and stderr UTF-8 whatever the locale (glyphs, non-ASCII titles)."""
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if enc != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the flush at exit stays quiet."""
    try:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
    except OSError:
        pass
