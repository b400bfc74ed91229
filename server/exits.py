"""Exit codes of every np program (np, np doctor, np backup, np m, np serve, np mcp): the one
source, and what a server says when its standard output fails.

Stdlib only and import-free, so any front door may use it without loading anything.
"""

from __future__ import annotations

import io

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


def stdout_problem() -> str | None:
    """Why standard output cannot carry a server's protocol, seen before it reads anything:
    ``"is closed"`` (np started with it closed), ``"is open for reading only"``, or None."""
    import os
    import sys

    if sys.stdout is None:
        return "is closed"
    try:
        import fcntl

        flags = fcntl.fcntl(sys.stdout.fileno(), fcntl.F_GETFL)
    except (OSError, ValueError, AttributeError):
        return "is closed"
    if flags & os.O_ACCMODE == os.O_RDONLY:
        return "is open for reading only"
    return None


def protocol_output_failed(program: str, why: str, *, started: bool) -> str:
    """The one sentence (for stderr) of a server (``np serve``, ``np mcp``) whose standard
    output, its only channel to the client, is unusable; it then exits with
    :data:`EXIT_OUTPUT`. ``started``: it failed while serving (else nothing was read)."""
    if not started:
        return (
            f"np {program}: standard output {why}, and it is the only channel to the client; "
            f"nothing was read or run. Start np {program} with its stdout connected to the client."
        )
    return (
        f"np {program}: standard output {why}, and it is the only channel to the client, so "
        f"np {program} stopped without running anything more; what was done before is saved "
        "(np p shows the plan)."
    )


class ProtocolOut(io.BufferedWriter):
    """A server's protocol stdout; ``failed`` says why writing it failed (``"could not be
    written (No space left on device)"``), None while it works. A broken pipe is not
    recorded: the client left, and nobody is waiting for an answer."""

    failed: str | None = None

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return super().write(data)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            self.failed = self.failed or _failure(exc)
            raise

    def flush(self) -> None:
        try:
            super().flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            self.failed = self.failed or _failure(exc)
            raise


def _failure(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not be written ({exc.strerror})"
    return "was closed"
