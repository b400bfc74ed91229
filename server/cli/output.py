"""The one output path of every CLI program (np, np doctor, np backup, np m).

Results go to stdout (text, or compact JSON with ``--json``); errors go to stderr as one
``np: …`` line, or to stdout as ``{"error": {code, kind, message, data}}`` with ``--json``.
The CLI's own next step (flags and ``np`` commands, from ``server.text.hints``) is appended
here to the store's neutral sentence. Stdlib only until an error needs the hint table.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from server.exits import EXIT_DOMAIN, EXIT_OUTPUT, EXIT_USAGE, OutputFailed, exit_code

if TYPE_CHECKING:
    from store import NpError

JSON = dict[str, Any]


_CLOSED: set[int] = set()  # standard descriptors closed when np started (``np p >&-``)
# What this run committed or wrote, told if its output then fails: (what, what to do).
SAVED: list[tuple[str, str]] = []
# Set when a write was stopped (Ctrl-C, SIGTERM, SIGHUP) before it committed anything.
UNSAVED: list[bool] = []


def write(stream: Any, text: str) -> None:
    """Write ``text`` and a final newline (unless it has one). On stdout, a failure to
    write (closed, full, I/O error; not a broken pipe) raises :class:`OutputFailed`."""
    _put(stream, text if text.endswith("\n") else text + "\n")


def write_parts(stream: Any, parts: Iterable[str]) -> None:
    """Write ``parts`` one after another as they come (a streamed result: memory stays
    flat), then a final newline unless the last one ended with one; as :func:`write`."""
    last = ""
    for part in parts:
        if part:
            _put(stream, part)
            last = part
    if not last.endswith("\n"):
        _put(stream, "\n")


def _put(stream: Any, text: str) -> None:
    if stream is not sys.stdout:
        try:
            if stream is not None:
                stream.write(text)
        except (OSError, ValueError):
            pass  # stderr is gone: nowhere left to tell
        return
    if 1 in _CLOSED or stream is None:
        raise OutputFailed("standard output is closed")
    try:
        stream.write(text)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        raise OutputFailed(_why(exc)) from None


def flush_stdout() -> None:
    """Flush stdout now, so that a full disk or an I/O error is seen while np can still say
    so (not at interpreter exit). Raises :class:`OutputFailed`."""
    if 1 in _CLOSED or sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        raise OutputFailed(_why(exc)) from None


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return "standard output is closed"


def print_output_failed(exc: OutputFailed, as_json: bool) -> int:
    """stdout failed: say on stderr what was saved anyway; exit 4 (``EXIT_OUTPUT``)."""
    if SAVED:
        what, advice = SAVED[-1]
        message = f"{what}, but its output could not be written ({exc}).{advice}"
    else:
        message = f"The output could not be written ({exc}); nothing was changed."
    silence_stdout()
    write(sys.stderr, f"np: {message}")
    return EXIT_OUTPUT


def out(text: str) -> None:
    write(sys.stdout, text)


def dump(obj: object) -> str:
    """Compact JSON, UTF-8 kept as is (what ``--json`` prints)."""
    from server.commands.spool import dump as compact

    return compact(obj)


def dump_parts(obj: dict[str, Any]) -> Iterator[str]:
    """:func:`dump` of a streamed result, in pieces as they are read (flat memory)."""
    from server.commands.spool import dump_parts as parts

    return parts(obj)


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
        data = _well_formed({**err["data"], "detail": exc.message})
        write(sys.stdout, _error_json(err["code"], err["kind"], message, data))
    else:
        write(sys.stderr, f"np: {message}")
    return exit_code(exc.kind)


def _well_formed(value: Any) -> Any:
    """``value`` with every string made well-formed (a path's non-UTF-8 byte as ``\\xNN``,
    as np shows paths), so the error JSON holds no lone surrogate a strict parser refuses."""
    if isinstance(value, str):
        from store.text import printable

        return printable(value)
    if isinstance(value, dict):
        return {k: _well_formed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_well_formed(v) for v in value]
    return value


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
        import traceback

        from store.url import redact_text

        # The traceback, with any database URL's password masked (it may quote the URL).
        sys.stderr.write(redact_text("".join(traceback.format_exception(exc))))
        return EXIT_DOMAIN
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
    """Make stdout and stderr UTF-8 whatever the locale (glyphs, non-ASCII titles), and
    never fail on text that is not: a byte from argv or a path that is not UTF-8 is shown
    as ``\\xNN``.

    A standard descriptor (0, 1, 2) that is closed is opened on ``/dev/null``, so no file
    np opens later (a log, a backup) can take its number and receive what is meant for
    stdout; a closed stdout is remembered, and writing to it is then an error.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if null != fd:  # pragma: no cover - the lowest free number is the closed one
                os.dup2(null, fd)
                os.close(null)
            _CLOSED.add(fd)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(encoding="utf-8", errors="backslashreplace")
            except OSError:
                # np mcp's front has already pointed fd 1 elsewhere (a pipe where the stream
                # was opened on a seekable file such as /dev/full): reconfigure's tell() fails
                # there, and the stream keeps the encoding it has.
                pass


def silence_stdout() -> None:
    """After a broken pipe or a failed write: point stdout (the descriptor, and the stream)
    at /dev/null, so the flush at exit of what is still buffered stays quiet."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
    except OSError:
        pass
