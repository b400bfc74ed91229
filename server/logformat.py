"""The log of the long-running doors (``np serve``, ``np mcp``): where it goes and its line
format."""

from __future__ import annotations

import logging
import sys

from store.url import redact_text


class RedactingFormatter(logging.Formatter):
    """``%(asctime)s %(levelname)s %(name)s: %(message)s``, traceback included, with every
    PostgreSQL URL in the line passed through :func:`store.url.redact` first: a message or
    exception that quotes a URL never writes its password to the log."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def log_handler(log_file: str | None, db: str | None = None) -> logging.Handler:
    """A handler writing to ``log_file`` (stderr when None), its lines redacted.

    Raises:
        InvalidArgument: the log file cannot be written (``field="log_file"``), or it is
            the database ``db``, one of its sidecars or another database's file, or a link
            to one (``cause="database_file"``: :func:`store.outputs.check_output`): one
            sentence for the door to print.
    """
    if log_file:
        from store.outputs import check_output

        check_output(log_file, db, field="log_file", what="its log")
    try:
        handler: logging.Handler = (
            logging.FileHandler(log_file, encoding="utf-8")
            if log_file
            else logging.StreamHandler(sys.stderr)
        )
    except OSError as exc:
        from store import InvalidArgument

        raise InvalidArgument(
            f"Cannot write the log file ({exc.strerror}); choose a writable path.",
            field="log_file",
        ) from None
    handler.setFormatter(RedactingFormatter())
    return handler
