"""``np``: the command line front door.

It parses argv into the one JSON-object argument of a command in the table
(``server.commands``), runs it, and prints the result as compact text or, with
``--json``, as the exact SPEC §5 result object. Parsing is hand-written on purpose:
``-t``/``-d`` and ``-i``/``-s``/``-r`` pair by position, values may begin with ``-``,
and global flags may stand before or after the subcommand. The import path stays lean
(no pygls, no sqlite-utils, no json until it is needed): agents run this dozens of times.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .version import __version__

JSON = dict[str, Any]

# flag spelling → option name
VALUE_FLAGS = {
    "-t": "title",
    "--title": "title",
    "-d": "description",
    "--description": "description",
    "--desc": "description",
    "-r": "reason",
    "--reason": "reason",
    "-i": "id",
    "--id": "id",
    "-s": "status",
    "--status": "status",
    "-n": "limit",
    "--limit": "limit",
    "--db": "db",
    "-C": "dir",
    "--dir": "dir",
    "--format": "format",
    "-f": "format",
    "--session": "session",
    "-o": "output",
    "--output": "output",
    "--log-file": "log_file",
}
BOOL_FLAGS = {
    "--json": "json",
    "--all": "all",
    "-h": "help",
    "--help": "help",
    "--version": "version",
    "--stdio": "stdio",  # what language clients pass; stdio is np serve's only transport
}
GLOBAL_OPTIONS = {"db", "dir", "json", "help", "version"}

EXIT_OK, EXIT_DOMAIN, EXIT_USAGE, EXIT_STORAGE = 0, 1, 2, 3


class UsageError(Exception):
    pass


class Parsed:
    def __init__(self) -> None:
        self.words: list[str] = []
        self.options: list[tuple[str, str]] = []  # in order, for positional pairing
        self.flags: set[str] = set()

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.options if k == name]

    def one(self, name: str) -> str | None:
        found = self.values(name)
        if len(found) > 1:
            raise UsageError(f"Give --{name.replace('_', '-')} only once.")
        return found[0] if found else None


def tokenize(argv: Sequence[str]) -> Parsed:
    parsed = Parsed()
    args = list(argv)
    i = 0
    only_words = False
    while i < len(args):
        arg = args[i]
        i += 1
        if only_words or not arg.startswith("-") or arg == "-":
            parsed.words.append(arg)
            continue
        if arg == "--":
            only_words = True
            continue
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in BOOL_FLAGS and not eq:
            parsed.flags.add(BOOL_FLAGS[name])
            continue
        if name in VALUE_FLAGS:
            if eq:
                value = inline
            elif i < len(args) and args[i] not in VALUE_FLAGS and args[i] not in BOOL_FLAGS:
                value = args[i]  # taken as is, even when it begins with "-"
                i += 1
            else:
                raise UsageError(f"{name} needs a value.")
            parsed.options.append((VALUE_FLAGS[name], value))
            continue
        raise UsageError(f"Unknown option {arg[:40]}.")
    return parsed


# -- verbs: argv → (command, argument) ------------------------------------------------------

Builder = Callable[[Parsed], JSON]
Printer = Callable[[JSON], str]


class Verb:
    def __init__(
        self,
        command: str | None,
        options: set[str],
        build: Builder,
        text: Printer,
        usage: str,
    ) -> None:
        self.command = command
        self.options = options
        self.build = build
        self.text = text
        self.usage = usage


def _pairs_tasks(p: Parsed) -> JSON:
    tasks: list[JSON] = []
    for name, value in p.options:
        if name == "title":
            tasks.append({"title": value})
        elif name == "description":
            if not tasks:
                raise UsageError("A -d belongs to the -t before it; put -t first.")
            if "description" in tasks[-1]:
                raise UsageError("Each -t takes at most one -d; add -t before the next -d.")
            tasks[-1]["description"] = value
    if not tasks:
        raise UsageError('Add at least one task: np t a -t "<title>" -d "<description>".')
    return {"tasks": tasks}


def _pairs_updates(p: Parsed) -> JSON:
    ids, statuses, reasons = p.values("id"), p.values("status"), p.values("reason")
    if not ids:
        raise UsageError("Name the task with -i <id> and the new status with -s <status>.")
    if len(statuses) != len(ids):
        raise UsageError("Give one -s <status> for each -i <id>.")
    if len(reasons) > 1 and len(reasons) != len(ids):
        raise UsageError("Give -r once (it applies to every change) or once per -i.")
    updates: list[JSON] = []
    for n, (task_id, status) in enumerate(zip(ids, statuses, strict=True)):
        item: JSON = {"id": task_id, "status": status}
        if len(reasons) > 1:
            item["reason"] = reasons[n]
        updates.append(item)
    arg: JSON = {"updates": updates}
    if len(reasons) == 1:
        arg["reason"] = reasons[0]
    return arg


def _fields(p: Parsed, **names: str) -> JSON:
    out: JSON = {}
    for key, option in names.items():
        value = p.one(option)
        if value is not None:
            out[key] = value
    return out


def _session_arg(p: Parsed) -> JSON:
    sid = p.one("session")
    return {"sid": sid} if sid else {}


def _limit(p: Parsed, default: int | None) -> int | None:
    value = p.one("limit")
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise UsageError("-n takes a whole number of at least 1.")
    return int(value)


def _with_guide(r: JSON) -> str:
    return f"{r['text']}\n\n{r['guide']}"


def _plan_text(r: JSON) -> str:
    return str(r["text"])


def _goal_text(r: JSON) -> str:
    goal = r["goal"]
    if goal is None:
        return "Goal: (not set)"
    return f"Goal: {goal['title']}" + (f"\n{goal['description']}" if goal["description"] else "")


def _sessions_text(r: JSON) -> str:
    rows = r["sessions"]
    if not rows:
        return "(no sessions)"
    return "\n".join(
        f"{s['sid']}  {s['state']:<8}  {s['last_updated_at'][:19].replace('T', ' ')}  {s['dir']}"
        for s in rows
    )


def _archived_text(r: JSON) -> str:
    s = r["session"]
    return f"Session {s['sid']} in {s['dir']} is archived."


def _events_text(r: JSON) -> str:
    from store import Event, EventType

    from .render import events_text

    return events_text(
        [
            Event(
                r["sid"],
                e["seq"],
                e["at"],
                EventType(e["type"]),
                e["reason"],
                e["cmd"],
                e["payload"],
            )
            for e in r["events"]
        ]
    )


VERBS: dict[tuple[str, ...], Verb] = {}


def verb(
    paths: Sequence[tuple[str, ...]],
    command: str | None,
    options: set[str],
    build: Builder,
    text: Printer,
    usage: str,
) -> None:
    v = Verb(command, options, build, text, usage)
    for path in paths:
        VERBS[path] = v


verb([("s",), ("start",)], "np.session.start", set(), lambda p: {}, _with_guide, "np s")
verb([("r",), ("resume",)], "np.session.resume", set(), lambda p: {}, _with_guide, "np r")
verb([("p",), ("plan",)], "np.plan", {"session"}, _session_arg, _plan_text, "np p")
verb([("g",), ("goal",)], "np.plan", {"session"}, _session_arg, _goal_text, "np g")
verb(
    [("g", "s"), ("goal", "set")],
    "np.goal.set",
    {"title", "description"},
    lambda p: _fields(p, title="title", description="description"),
    _with_guide,
    'np g s -t "<title>" -d "<description>"',
)
verb(
    [("g", "u"), ("goal", "update"), ("goal", "change"), ("g", "c")],
    "np.goal.change",
    {"title", "description", "reason"},
    lambda p: _fields(p, title="title", description="description", reason="reason"),
    _plan_text,
    'np g u [-t "<title>"] [-d "<description>"] -r "<reason>"',
)
verb(
    [("t",), ("tasks",), ("task",)],
    "np.task.list",
    {"status", "session"},
    lambda p: {**_session_arg(p), "status": p.values("status")},
    _plan_text,
    "np t [-s <status> …]",
)
verb(
    [("t", "a"), ("task", "add"), ("tasks", "add")],
    "np.task.add",
    {"title", "description"},
    _pairs_tasks,
    _with_guide,
    'np t a -t "<title>" [-d "<description>"] [-t … -d …]',
)
verb(
    [("t", "u"), ("task", "update"), ("tasks", "update")],
    "np.task.update",
    {"id", "status", "reason"},
    _pairs_updates,
    _plan_text,
    'np t u -i <id> -s <status> [-i <id> -s <status> …] [-r "<reason>" …]',
)
verb(
    [("t", "e"), ("task", "edit"), ("tasks", "edit")],
    "np.task.edit",
    {"id", "title", "description", "reason"},
    lambda p: _fields(p, id="id", title="title", description="description", reason="reason"),
    _plan_text,
    'np t e -i <id> [-t "<title>"] [-d "<description>"] -r "<reason>"',
)
verb(
    [("a",), ("archive",)], "np.session.archive", {"session"}, _session_arg, _archived_text, "np a"
)
verb(
    [("ls",), ("list",)],
    "np.session.list",
    {"all", "limit"},
    lambda p: {"state": "all" if "all" in p.flags else "active", "limit": _limit(p, None)},
    _sessions_text,
    "np ls [--all]",
)
verb(
    [("log",)],
    "np.events",
    {"limit", "session"},
    lambda p: {**_session_arg(p), "limit": _limit(p, 50), "newest_first": True},
    _events_text,
    "np log [-n N] [--session SID]",
)
verb(
    [("export",)],
    "np.export",
    {"format", "session", "output"},
    lambda p: {**_session_arg(p), "format": p.one("format") or "markdown"},
    lambda r: str(r["content"]).rstrip("\n"),
    "np export [--format md|json] [--session SID] [-o FILE]",
)

# Verbs that are not table commands: they run a program of their own.
SPECIAL: dict[tuple[str, ...], str] = {
    ("prompt",): "np prompt",
    ("m",): "np m [--session SID]",
    ("monitor",): "np m [--session SID]",
    ("serve",): "np serve [--log-file FILE]",
    ("mcp",): "np mcp [--log-file FILE]  (MCP server on stdio, for coding agents)",
    ("doctor",): "np doctor [--json]  (health check: exit 0 healthy, 1 naming the problem)",
    ("backup",): (
        "np backup PATH [--json]  (online copy of the database; np never overwrites a file: "
        "PATH must not exist yet, or be a folder to get np-backup-<UTC time>.db in it)"
    ),
}
# Specials that take one positional word after the command (``np backup PATH``).
SPECIAL_WITH_ARG = {("backup",)}

HELP = f"""\
np {__version__} — nasin pali, the way of work: a plan for an AI coding agent.

For the agent (each command's output teaches the next step):
  np s                         start a session in this directory
  np r                         resume: the plan and how to carry on
  np p                         print the plan
  np g                         show the goal
  np g s -t TITLE -d DESC      set the goal
  np g u [-t T] [-d D] -r WHY  change the goal (only when the operator asks)
  np t [-s STATUS …]           list tasks
  np t a -t T [-d D] …         add tasks (-t/-d pair by position)
  np t u -i ID -s STATUS … [-r WHY …]   change statuses (failed/cancelled need -r)
  np t e -i ID [-t T] [-d D] -r WHY     reword a task

For the operator:
  np a                         archive this directory's session
  np ls [--all]                list sessions
  np log [-n N]                the event log, newest first
  np export [--format md|json] [-o FILE]
  np m                         live monitor
  np serve                     JSON-RPC (LSP) server on stdio, for editors and agents
  np mcp                       MCP server on stdio, for coding agents (the [mcp] extra)
  np prompt                    the snippet for an agent's AGENTS.md / CLAUDE.md
  np doctor                    check the database's health
  np backup PATH               a consistent copy of the database, while agents keep writing

Global options (before or after the command): --json, --db PATH, -C DIR.
Statuses: pending, in_progress, completed, failed, cancelled.
Exit codes: 0 ok, 1 plan error, 2 usage error, 3 storage error.
Data: --db, else $NP_DB, else ~/.local/share/np/np.db."""


# -- running -------------------------------------------------------------------------------


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./:=@%+,#" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


CMD_MAX = 1000


def command_line(argv: Sequence[str]) -> str:
    """What an event records as its ``cmd``: the argv, shell-quoted, capped in length."""
    line = " ".join(["np", *(_quote(a) for a in argv)])
    return line if len(line) <= CMD_MAX else line[: CMD_MAX - 1] + "…"


def _write(stream: Any, text: str) -> None:
    stream.write(text if text.endswith("\n") else text + "\n")


def _dump(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _error_json(code: int, kind: str, message: str, data: JSON) -> str:
    return _dump({"error": {"code": code, "kind": kind, "message": message, "data": data}})


def _exit_code_for(kind: str) -> int:
    if kind in ("storage_busy", "storage_error"):
        return EXIT_STORAGE
    if kind == "invalid_argument":
        return EXIT_USAGE
    return EXIT_DOMAIN


def _resolve_verb(words: list[str]) -> tuple[tuple[str, ...], Verb | None]:
    if not words:
        raise UsageError("Say what to do; `np s` starts a session, `np --help` lists commands.")
    path = tuple(words)
    if path in SPECIAL or (len(path) == 2 and path[:1] in SPECIAL_WITH_ARG):
        return path, None
    if path in VERBS:
        return path, VERBS[path]
    if len(words) > 1 and tuple(words[:2]) in VERBS:
        raise UsageError(f"Unexpected word {words[2][:40]!r}; put text in quotes after a flag.")
    if len(words) > 1 and (words[0],) in VERBS:
        sub = [" ".join(k) for k in VERBS if len(k) == 2 and k[0] == words[0]]
        if sub:
            raise UsageError(
                f"Unknown subcommand {words[1][:40]!r}; try: np {', np '.join(sorted(sub))}."
            )
        raise UsageError(f"Unexpected word {words[1][:40]!r}; put text in quotes after a flag.")
    raise UsageError(f"Unknown command {words[0][:40]!r}; `np --help` lists commands.")


def _check_options(parsed: Parsed, allowed: set[str], usage: str) -> None:
    for name, _ in parsed.options:
        if name not in allowed and name not in GLOBAL_OPTIONS:
            raise UsageError(f"This command does not take that option. Usage: {usage}")
    for flag in parsed.flags:
        if flag not in allowed and flag not in GLOBAL_OPTIONS:
            raise UsageError(f"This command does not take --{flag}. Usage: {usage}")


def _setup_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if enc != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _setup_streams()
    as_json = "--json" in args
    try:
        return _run(args)
    except UsageError as exc:
        if as_json:
            _write(
                sys.stdout,
                _error_json(1007, "invalid_argument", str(exc), {"kind": "invalid_argument"}),
            )
        else:
            _write(sys.stderr, f"np: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback for the user
        from store import NpError

        if isinstance(exc, NpError):
            if as_json:
                err = exc.to_dict()
                _write(
                    sys.stdout, _error_json(err["code"], err["kind"], err["message"], err["data"])
                )
            else:
                _write(sys.stderr, f"np: {exc.message}")
            return _exit_code_for(exc.kind)
        if os.environ.get("NP_DEBUG"):
            raise
        message = (
            f"unexpected internal error ({type(exc).__name__}); nothing was left half-written. "
            "Run again with NP_DEBUG=1 to see details, and please report it."
        )
        if as_json:
            _write(
                sys.stdout, _error_json(1000, "internal_error", message, {"kind": "internal_error"})
            )
        else:
            _write(sys.stderr, f"np: {message}")
        return EXIT_DOMAIN


def _run(args: list[str]) -> int:
    parsed = tokenize(args)
    if "version" in parsed.flags:
        _write(sys.stdout, f"np {__version__}")
        return EXIT_OK
    if "help" in parsed.flags or not parsed.words:
        if not parsed.words and "help" not in parsed.flags:
            _write(sys.stderr, HELP)
            return EXIT_USAGE
        path = tuple(parsed.words)
        usage = VERBS[path].usage if path in VERBS else SPECIAL.get(path)
        _write(sys.stdout, f"Usage: {usage}" if usage else HELP)
        return EXIT_OK
    path, v = _resolve_verb(parsed.words)
    db_path = parsed.one("db") or _default_db()
    directory = parsed.one("dir") or _cwd()

    if v is None:
        return _run_special(path, parsed, db_path, directory)

    _check_options(parsed, v.options, v.usage)
    assert v.command is not None
    argument = v.build(parsed)

    from store import Store

    from .commands import Context, execute

    with Store(db_path) as store:
        context = Context(store, directory, command_line(args), preview="json" not in parsed.flags)
        result = execute(v.command, context, argument)

    output = parsed.one("output")
    if v.command == "np.export" and "json" not in parsed.flags:
        content = str(result["content"])
        if output:
            _write_file(output, content)
            _write(sys.stderr, f"Wrote the {result['format']} export to {output}.")
        else:
            _write(sys.stdout, content)
        return EXIT_OK
    _write(sys.stdout, _dump(result) if "json" in parsed.flags else v.text(result))
    return EXIT_OK


def _write_file(path: str, content: str) -> None:
    from store import InvalidArgument

    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    except OSError as exc:
        raise InvalidArgument(
            f"Cannot write the export file ({exc.strerror}); choose another path with -o.",
            field="output",
        ) from None


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        raise UsageError(
            "The current directory no longer exists; cd somewhere that does, or pass -C DIR."
        ) from None


def _default_db() -> str:
    from store.paths import default_db_path

    return default_db_path()


def _run_special(path: tuple[str, ...], parsed: Parsed, db_path: str, directory: str) -> int:
    if path == ("prompt",):
        from .guide import PROMPT

        _write(sys.stdout, PROMPT)
        return EXIT_OK
    if path in (("m",), ("monitor",)):
        _check_options(parsed, {"session"}, SPECIAL[path])
        from .monitor import run_monitor

        return run_monitor(db_path, directory, parsed.one("session"))
    if path == ("serve",):
        _check_options(parsed, {"log_file", "stdio"}, SPECIAL[path])
        from .lsp import serve

        return serve(db_path, directory, parsed.one("log_file"))
    if path == ("mcp",):
        _check_options(parsed, {"log_file"}, SPECIAL[path])
        from .mcp import serve as serve_mcp

        return serve_mcp(db_path, parsed.one("dir"), parsed.one("log_file"))
    if path == ("doctor",):
        _check_options(parsed, set(), SPECIAL[path])
        from .doctor import run_doctor

        return run_doctor(db_path, "json" in parsed.flags)
    if path[:1] == ("backup",):
        _check_options(parsed, set(), SPECIAL[("backup",)])
        if len(path) != 2:
            raise UsageError(f"Name the backup file. Usage: {SPECIAL[('backup',)]}")
        from .doctor import run_backup

        return run_backup(db_path, path[1], "json" in parsed.flags)
    raise UsageError("Unknown command.")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
