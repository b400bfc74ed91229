"""Exit codes of every np program (np, np doctor, np backup, np m, np serve): the one source.

Stdlib only and import-free, so any front door may use it without loading anything.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DOMAIN = 1  # a plan error (no session, already active, …); np doctor: unhealthy
EXIT_USAGE = 2  # bad arguments (invalid_argument)
EXIT_STORAGE = 3  # the database is busy, unreadable or newer than this np
# The output could not be written (stdout full, closed or failing). What the command
# changed was saved: do not run it again (``np p`` shows the plan).
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130  # Ctrl-C

SUMMARY = (
    "0 ok, 1 plan error, 2 usage error, 3 storage error, "
    "4 output could not be written (a change was saved)"
)


def exit_code(kind: str) -> int:
    """The exit code for an error ``kind`` (SPEC §5 ``data.kind``)."""
    if kind in ("storage_busy", "storage_error"):
        return EXIT_STORAGE
    if kind == "invalid_argument":
        return EXIT_USAGE
    return EXIT_DOMAIN


class OutputFailed(Exception):
    """Standard output could not be written (closed, full, an I/O error; not a broken
    pipe). Any program the CLI starts may raise it; the CLI reports it on stderr, saying
    what was saved anyway, with :data:`EXIT_OUTPUT`."""
