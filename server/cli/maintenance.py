"""``np doctor`` and ``np backup PATH``: the CLI glue around ``store.ops``.

Both print one line per finding (or, with ``--json``, one JSON object) and return the
process exit code: doctor 0 when healthy and 1 naming the problem otherwise; backup 0 on
success, 2 when the destination is unusable (np never overwrites a file) and 3 when the
database cannot be read.
"""

from __future__ import annotations

from server.exits import EXIT_DOMAIN, EXIT_OK
from store import NpError
from store.ops import FAIL, WARN, Report, backup, diagnose
from store.text import counted, printable

from .output import SAVED, dump, out, print_error

_MARK = {"ok": "ok  ", WARN: "warn", FAIL: "FAIL"}


def report_text(report: Report) -> str:
    width = max(len(c.name) for c in report.checks)
    lines = [f"np doctor: {printable(report.path)}"]
    lines += [
        f"  {_MARK.get(c.status, c.status)}  {c.name:<{width}}  {c.message}" for c in report.checks
    ]
    problems, warnings = report.problems, report.warnings
    if problems:
        names = ", ".join(c.name for c in problems)
        lines.append(
            f"Unhealthy: {counted(len(problems), 'problem')} ({names}); see the FAIL lines above."
        )
    elif warnings:
        lines.append(f"Healthy, with {counted(len(warnings), 'warning')}.")
    else:
        lines.append("Healthy.")
    return "\n".join(lines)


def run_doctor(db_path: str, as_json: bool) -> int:
    """Check the database at ``db_path``; exit 0 when healthy, 1 naming the problem."""
    try:
        report = diagnose(db_path)
    except NpError as exc:  # pragma: no cover - diagnose reports findings, it does not raise
        return print_error(exc, as_json)
    out(dump(report.to_dict()) if as_json else report_text(report))
    return EXIT_OK if report.healthy else EXIT_DOMAIN


def run_backup(db_path: str, dest: str, as_json: bool) -> int:
    """Copy the database to ``dest`` (a new file, or a folder for a time-stamped name)."""
    try:
        result = backup(db_path, dest)
    except NpError as exc:
        return print_error(exc, as_json)
    shown = printable(result.path)
    SAVED.append((f"The backup was written to {shown}", ""))
    if as_json:
        out(dump({"backup": result.to_dict()}))
    else:
        what = ", ".join(
            f"{n:,} {k[:-1] if n == 1 and k.endswith('s') else k}"
            for k, n in result.counts.items()
            if k != "active_sessions"
        )
        out(
            f"Backed up {printable(result.source)} to {shown} ({result.size:,} bytes"
            + (f"; {what}" if what else "")
            + f") in {result.seconds * 1000:.0f} ms; integrity check: {result.integrity}."
        )
    return EXIT_OK


def run_migrate(db_path: str, as_json: bool) -> int:
    """``np db migrate``: bring the database to this np's schema (exit 0), or say why not."""
    from store.ops.copy import migrate_database

    try:
        result = migrate_database(db_path)
    except NpError as exc:
        return print_error(exc, as_json)
    if as_json:
        out(dump({"migrate": result.to_dict()}))
    elif result.applied:
        out(
            f"Migrated {result.database} to schema {result.schema_version}: "
            + ", ".join(result.applied)
            + "."
        )
    else:
        out(f"{result.database} is at schema {result.schema_version} already; nothing to do.")
    return EXIT_OK


# What one row of each table copied is, for "Copied 1 session, 2 tasks, …".
# A table not named here is counted in rows of it ("2 notes rows"), never misspelled.
_ROW_NOUNS = {
    "sessions": ("session", None),
    "goals": ("goal", None),
    "tasks": ("task", None),
    "events": ("event", None),
    "seen": ("seen mark", None),
    "task_after": ("dependency", "dependencies"),
    "requests": ("request", None),
    "joins": ("join", None),
    "receipts": ("receipt", None),
}


def run_copy(source: str, dest: str, as_json: bool) -> int:
    """``np db copy FROM TO``: every row into an empty database, checked (exit 0)."""
    from store.ops.copy import copy_database

    try:
        result = copy_database(source, dest)
    except NpError as exc:
        return print_error(exc, as_json)
    if as_json:
        out(dump({"copy": result.to_dict()}))
    else:
        what = ", ".join(
            counted(n, *_ROW_NOUNS.get(table, (f"{table} row", None)))
            for table, n in result.counts.items()
        )
        out(
            f"Copied {what} from {result.source} to {result.dest} in "
            f"{result.seconds * 1000:.0f} ms; both hold the same rows "
            f"(sha256 {result.fingerprint[:12]}…)."
            + (
                f" SQLite's sessions now have scope {result.scope!r} (NP_SCOPE, else the host "
                "name): np finds them on a machine with that scope."
                if result.scope is not None
                else ""
            )
            + (" Scopes were dropped: SQLite has none." if result.scopes_dropped else "")
        )
    return EXIT_OK
