"""The log line format of the long-running doors (``np serve``, ``np mcp``)."""

from __future__ import annotations

import logging

from store.pg.url import redact_text


class RedactingFormatter(logging.Formatter):
    """``%(asctime)s %(levelname)s %(name)s: %(message)s``, traceback included, with every
    PostgreSQL URL in the line passed through :func:`store.pg.url.redact` first: a message or
    exception that quotes a URL never writes its password to the log."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))
