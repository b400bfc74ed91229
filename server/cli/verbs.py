"""The verb table of ``np``: the single source of what each verb runs, takes and prints.

Each ``Verb`` maps argv words to a command of the table (``server.commands``) or to a program
of its own (``np serve``, ``np m``, ``np doctor`` …), and carries its usage and one-line
summary: ``np --help``, ``np help [COMMAND]``, per-command ``--help`` and the README's command
tables (checked by ``tests/cli/test_docs.py``) all come from here. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, ParamSpec

from server.exits import SUMMARY as EXIT_SUMMARY
from server.version import __version__

from .argv import Parsed, UsageError, _shown

JSON = dict[str, Any]
Builder = Callable[[Parsed], JSON]
Printer = Callable[[JSON], "str | Iterator[str]"]  # pieces: a streamed result
Audience = Literal["agent", "operator"]
P = ParamSpec("P")


class Verb:
    """One verb: its spellings, what it runs, the options it takes, and its documentation.

    ``command`` names a table command; ``program`` (when ``command`` is None) names a program
    of its own, run by ``server.cli``. ``usage`` is the synopsis (README's first column),
    ``summary`` the one line ``np --help`` shows. ``takes_word``: ``np backup PATH`` (one
    positional word after the verb); ``takes_two_words``: ``np db copy FROM TO``. A plain
    class: a NamedTuple compiles code when defined, and this module loads on every run.
    """

    __slots__ = (
        "audience",
        "build",
        "command",
        "options",
        "paths",
        "program",
        "summary",
        "takes_two_words",
        "takes_word",
        "text",
        "usage",
    )

    def __init__(
        self,
        paths: Sequence[tuple[str, ...]],
        command: str | None,
        options: Iterable[str],
        usage: str,
        summary: str,
        audience: Audience,
        *,
        build: Builder | None = None,
        text: Printer | None = None,
        program: str | None = None,
        takes_word: bool = False,
        takes_two_words: bool = False,
    ) -> None:
        self.paths = tuple(paths)
        self.command = command
        self.options = frozenset(options)
        self.usage = usage
        self.summary = summary
        self.audience: Audience = audience
        self.build = build
        self.text = text
        self.program = program
        self.takes_word = takes_word
        self.takes_two_words = takes_two_words


# -- builders: argv → the command's one JSON-object argument ----------------------------


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
        elif name == "after":
            if not tasks:
                raise UsageError("An --after belongs to the -t before it; put -t first.")
            tasks[-1].setdefault("after", []).append(value)
    if not tasks:
        raise UsageError('Add at least one task: np t a -t "<title>" -d "<description>".')
    return {"tasks": tasks}


def _ids(p: Parsed) -> list[str]:
    """The -i values; ``-i a,b`` is refused with the way to say it (repeat -i)."""
    ids = p.values("id")
    for value in ids:
        if "," in value:
            parts = [v.strip() for v in value.split(",") if v.strip()]
            again = " ".join(f"-i {v}" for v in parts[:4])
            raise UsageError(f"One id per -i: repeat -i for several ({again}).")
    return ids


def _pairs_updates(p: Parsed) -> JSON:
    ids, statuses, reasons = _ids(p), p.values("status"), p.values("reason")
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
    if "take_over" in p.flags:
        arg["take_over"] = True
    return arg


def _wait(p: Parsed) -> JSON:
    task_id = p.one("id")
    if task_id is None:
        raise UsageError("Name the task with -i <id>, what it waits for with --after <id>.")
    return {"id": task_id, "after": p.values("after"), **_fields(p, reason="reason")}


def _joined_text(r: JSON) -> str:
    where = r["session"]["dir"]
    if not r["joined"]:
        return f"This folder already works on the plan of {where}.\n\n{r['text']}"
    return (
        f"This folder now works on the plan of {where} (session {r['sid']}); np finds it "
        f"from here as from that folder.\n\n{r['text']}"
    )


def _next_text(r: JSON) -> str:
    return f"{r['text']}\n\n{r['guide']}" if r.get("guide") else str(r["text"])


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
    from server.commands.args import INTEGER_MAX

    # ASCII digits only ("²" is a digit to str.isdigit, not to int), within what the
    # store can hold: a huge -n is a usage error, never an overflow deeper down.
    number = int(value) if value.isascii() and value.isdigit() and len(value) <= 30 else 0
    if not 1 <= number <= INTEGER_MAX:
        raise UsageError(f"-n takes a whole number from 1 to {INTEGER_MAX}.")
    return number


def _ask(p: Parsed) -> JSON:
    ids = _ids(p)
    if len(ids) != 1:
        raise UsageError('Name one task with -i: np t q -i <id> -q "<question>" [-o <choice> …].')
    if "withdraw" in p.flags:
        if p.values("question") or p.values("output"):
            raise UsageError("--withdraw takes the question back: give it with -i alone.")
        return {"id": ids[0], "withdraw": True}
    question = p.one("question")
    if question is None:
        raise UsageError('Give the question with -q: np t q -i <id> -q "<question>".')
    return {"id": ids[0], "question": question, "choices": p.values("output")}


def _plain_text(r: JSON) -> str:
    return str(r["text"])


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
        if r.get("state") == "all":
            return "(no sessions yet: np s starts one in a project's folder)"
        return "(no active sessions; np ls --all lists the archived ones too)"
    import os

    from store.paths import dir_path

    def here(s: JSON) -> bool:
        # another machine's session (PostgreSQL scope) has its folder on that machine
        if not s.get("scope"):
            return True
        from store.settings import shared_scope  # the store's rule (validated when opened)

        return bool(s["scope"] == shared_scope())

    def missing(s: JSON) -> str:
        # an active session whose folder is gone: renamed or moved (np mv moves it); the
        # shown dir is the stored key (bytes that are not UTF-8 escaped): test its path
        gone = s["state"] == "active" and here(s) and not os.path.isdir(dir_path(s["dir"]))
        return "  (folder missing: renamed or moved? np mv)" if gone else ""

    from store.text import printable, shorten

    def scope(s: JSON) -> str:
        # one bounded line: a scope stored before NP_SCOPE was checked (or by another np)
        # may hold a line break or an escape sequence, shown escaped, never raw
        text = printable(str(s.get("scope", "")))
        return shorten("".join(c if c.isprintable() else ascii(c)[1:-1] for c in text), 60)

    def goal(s: JSON) -> str:
        title = s.get("goal_title")
        return shorten(printable(title), 60) if title else "(no goal yet)"

    # On a shared PostgreSQL database every session has a scope (a machine, or NP_SCOPE).
    width = max((len(scope(s)) for s in rows), default=0)
    width = max(width, len("SCOPE")) if width else 0
    dirs = max(len("FOLDER"), *(len(s["dir"] + missing(s)) for s in rows))
    lines = [
        f"{'SESSION':<26}  {'STATE':<8}  {'UPDATED (UTC)':<19}  "
        + (f"{'SCOPE':<{width}}  " if width else "")
        + f"{'FOLDER':<{dirs}}  GOAL"
    ]
    lines += [
        f"{s['sid']}  {s['state']:<8}  {s['last_updated_at'][:19].replace('T', ' ')}  "
        + (f"{scope(s):<{width}}  " if width else "")
        + f"{s['dir'] + missing(s):<{dirs}}  {goal(s)}"
        for s in rows
    ]
    if r.get("state") != "all":
        lines.append("(active sessions; np ls --all lists the archived ones too)")
    return "\n".join(lines)


def _archived_text(r: JSON) -> str:
    s = r["session"]
    if r.get("already_archived"):
        return f"Session {s['sid']} in {s['dir']} was already archived; nothing changed."
    return f"Session {s['sid']} in {s['dir']} is archived."


def _moved_text(r: JSON) -> str:
    s = r["session"]
    if r.get("already_here"):
        return f"Session {s['sid']} already belongs to {s['dir']}; nothing changed."
    return f"Session {s['sid']} now belongs to {s['dir']}."


def _events_text(r: JSON) -> str | Iterator[str]:
    """``np log``'s text: the whole of it for a list of events, or pieces, written as the
    events are read, for a streamed result (``Context.stream``)."""
    parts = _events_parts(r)
    if isinstance(r["events"], list):
        return "".join(parts).rstrip("\n")
    return parts


def _events_parts(r: JSON) -> Iterator[str]:
    from server.text.render import event_line, receipt_text
    from store import Event, EventType
    from store.receipts import Receipt
    from store.text import counted

    total = int(r["total"])
    oldest = total + 1
    for e in r["events"]:
        oldest = min(oldest, e["seq"])
        event = Event(
            r["sid"],
            e["seq"],
            e["at"],
            EventType(e["type"]),
            e["reason"],
            e["cmd"],
            e["payload"],
            e.get("actor"),
        )
        yield event_line(event) + "\n"
        seen = receipt_text([Receipt(**x) for x in e.get("receipts", ())])
        if seen:  # who of the others working on the plan has seen it (issue 23)
            yield f"    {seen}\n"
    if oldest > total:
        yield "(no events)\n"
    older = oldest - 1
    if older > 0:
        yield (
            f"… {counted(older, 'older event')}; see them with np log -n {total} "
            "(or all of it, with reasons: np export).\n"
        )
        return
    yield f"(the whole log: {counted(total, 'event')})\n"


VERBS: dict[tuple[str, ...], Verb] = {}
ORDER: list[Verb] = []  # registration order: the order of np --help


def _register(v: Verb) -> None:
    """Add ``v`` to the table under each of its spellings."""
    paths = v.paths
    ORDER.append(v)
    spelled = list(paths)
    # Long and short words mix: np t add, np task a (every head with every tail).
    heads = dict.fromkeys(p[0] for p in paths if len(p) == 2)
    tails = dict.fromkeys(p[1] for p in paths if len(p) == 2)
    spelled += [(h, t) for h in heads for t in tails if (h, t) not in spelled]
    for path in spelled:
        VERBS[path] = v


def _registering(make: Callable[P, Verb]) -> Callable[P, None]:
    def register(*args: P.args, **kwargs: P.kwargs) -> None:
        _register(make(*args, **kwargs))

    return register


verb = _registering(Verb)  # verb(paths, command, options, usage, summary, audience, …)


def _empty(p: Parsed) -> JSON:
    return {}


# -- for the agent -----------------------------------------------------------------------------
verb(
    [("s",), ("start",)],
    "np.session.start",
    {"key"},
    "np s",
    "start a session in this directory",
    "agent",
    build=_empty,
    text=_with_guide,
)
verb(
    [("r",), ("resume",)],
    "np.session.resume",
    set(),
    "np r",
    "resume: the plan and how to carry on",
    "agent",
    build=_empty,
    text=_with_guide,
)
verb(
    [("p",), ("plan",)],
    "np.plan",
    {"session"},
    "np p",
    "print the plan",
    "agent",
    build=_session_arg,
    text=_plan_text,
)
verb(
    [("g",), ("goal",)],
    "np.plan",
    {"session"},
    "np g",
    "show the goal",
    "agent",
    build=_session_arg,
    text=_goal_text,
)
verb(
    [("g", "s"), ("goal", "set")],
    "np.goal.set",
    {"title", "description", "key"},
    "np g s -t TITLE -d DESC",
    "set the goal",
    "agent",
    build=lambda p: _fields(p, title="title", description="description"),
    text=_with_guide,
)
verb(
    [("g", "u"), ("goal", "update"), ("goal", "change"), ("g", "c")],
    "np.goal.change",
    {"title", "description", "reason", "key"},
    "np g u [-t TITLE] [-d DESC] -r REASON",
    "change the goal (only when the operator asks)",
    "agent",
    build=lambda p: _fields(p, title="title", description="description", reason="reason"),
    text=_plan_text,
)
verb(
    [("t",), ("task",), ("tasks",)],
    "np.task.list",
    {"status", "session", "id"},
    "np t [-s STATUS …] [-i ID …]",
    "list tasks, optionally by status; -i shows tasks whole",
    "agent",
    build=lambda p: {**_session_arg(p), "status": p.values("status"), "ids": _ids(p)},
    text=_plan_text,
)
verb(
    [("t", "a"), ("task", "add"), ("tasks", "add")],
    "np.task.add",
    {"title", "description", "after", "key"},
    "np t a -t TITLE [-d DESC] [--after ID …] [-t …]",
    "add tasks (-d and --after belong to the -t before them)",
    "agent",
    build=_pairs_tasks,
    text=_with_guide,
)
verb(
    [("t", "u"), ("task", "update"), ("tasks", "update")],
    "np.task.update",
    {"id", "status", "reason", "take_over", "key"},
    "np t u -i ID -s STATUS [-i … -s …] [-r REASON …] [--take]",
    "change statuses (failed/cancelled need -r; --take -r takes over another's claim)",
    "agent",
    build=_pairs_updates,
    text=_plan_text,
)
verb(
    [("next",), ("n",)],
    "np.task.next",
    {"key"},
    "np next",
    "claim the first ready task and show it whole (or say why none is ready)",
    "agent",
    build=_empty,
    text=_next_text,
)
verb(
    [("t", "w"), ("task", "wait"), ("tasks", "wait")],
    "np.task.wait",
    {"id", "after", "reason", "key"},
    "np t w -i ID [--after ID …] -r REASON",
    "change what a task waits for (none: it waits for nothing)",
    "agent",
    build=_wait,
    text=_plan_text,
)
verb(
    [("t", "e"), ("task", "edit"), ("tasks", "edit")],
    "np.task.edit",
    {"id", "title", "description", "reason", "key"},
    "np t e -i ID [-t TITLE] [-d DESC] -r REASON",
    "reword a task",
    "agent",
    build=lambda p: _fields(p, id="id", title="title", description="description", reason="reason"),
    text=_plan_text,
)
verb(
    [("t", "q"), ("task", "ask"), ("tasks", "ask")],
    "np.task.ask",
    {"id", "question", "output", "withdraw"},
    "np t q -i ID -q QUESTION [-o CHOICE …]",
    "ask the operator a question on a task and keep working (--withdraw takes it back)",
    "agent",
    build=_ask,
    text=_plain_text,
)
# -- for the operator --------------------------------------------------------------------------
verb(
    [("q",), ("questions",)],
    "np.questions",
    {"all", "session"},
    "np q [--all]",
    "the agents' open questions (here, or in every active session)",
    "operator",
    build=lambda p: {**_session_arg(p), "all": "all" in p.flags},
    text=_plain_text,
)
verb(
    [("q", "a"), ("questions", "answer")],
    "np.task.answer",
    {"id", "answer", "session"},
    "np q a -i ID -a ANSWER [--session SID]",
    "answer a task's open question (a choice or your own words)",
    "operator",
    build=lambda p: {**_session_arg(p), **_fields(p, id="id", answer="answer")},
    text=_plain_text,
)
verb(
    [("a",), ("archive",)],
    "np.session.archive",
    {"session"},
    "np a",
    "archive this directory's session",
    "operator",
    build=_session_arg,
    text=_archived_text,
)
verb(
    [("mv",), ("move",)],
    "np.session.move",
    {"session", "reason"},
    "np mv [--session SID] -r REASON",
    "after renaming or moving a project's folder: move its session here (recorded, with "
    "the reason)",
    "operator",
    build=lambda p: {**_session_arg(p), **_fields(p, reason="reason")},
    text=_moved_text,
)
verb(
    [("join",)],
    "np.session.join",
    {"session", "key"},
    "np join [--session SID]",
    "work on another folder's plan from here: a linked git worktree joins its main "
    "worktree's plan, any folder (a clone on another machine) the session SID",
    "operator",
    build=_session_arg,
    text=_joined_text,
)
verb(
    [("ls",), ("list",)],
    "np.session.list",
    {"all", "limit"},
    "np ls [--all]",
    "list sessions",
    "operator",
    build=lambda p: {"state": "all" if "all" in p.flags else "active", "limit": _limit(p, None)},
    text=_sessions_text,
)
verb(
    [("log",)],
    "np.events",
    {"limit", "session"},
    "np log [-n N]",
    "the event log, newest first",
    "operator",
    build=lambda p: {**_session_arg(p), "limit": _limit(p, 50), "newest_first": True},
    text=_events_text,
)
verb(
    [("export",)],
    "np.export",
    {"format", "session", "output", "force"},
    "np export [--format md|json] [--session SID] [-o FILE [--force]]",
    "the plan plus the full event log",
    "operator",
    build=lambda p: {**_session_arg(p), "format": p.one("format") or "markdown"},
    text=lambda r: str(r["content"]).rstrip("\n"),
)
# Verbs that are not table commands: they run a program of their own (server.cli.PROGRAMS).
verb(
    [("m",), ("monitor",)],
    None,
    {"session"},
    "np m [--session SID]",
    "live monitor",
    "operator",
    program="monitor",
)
verb(
    [("serve",)],
    None,
    {"log_file", "stdio"},
    "np serve [--log-file FILE]",
    "JSON-RPC (LSP) server on stdio, for editors and agents",
    "operator",
    program="serve",
)
verb(
    [("mcp",)],
    None,
    {"log_file"},
    "np mcp [--log-file FILE]",
    "MCP server on stdio, for coding agents (needs the [mcp] extra)",
    "operator",
    program="mcp",
)
verb(
    [("web",)],
    None,
    {"host", "port"},
    "np web [--host HOST] [--port PORT]",
    "the operator's live page in a browser (needs the [web] extra)",
    "operator",
    program="web",
)
verb(
    [("hooks",)],
    None,
    {"install"},
    "np hooks claude|codex|qwen [--install]",
    "hook settings that turn an agent host's own checklist into np tasks and bring np's "
    "notices into its next turn (--install: into the project's .claude/settings.json, "
    ".codex/hooks.json or .qwen/settings.json)",
    "operator",
    program="hooks",
    takes_word=True,
)
verb(
    [("bridge",)],
    None,
    set(),
    "np bridge claude|codex|qwen",
    "what those hooks run: reads the host's hook event (JSON) on stdin",
    "operator",
    program="bridge",
    takes_word=True,
)
verb(
    [("prompt",)],
    None,
    set(),
    "np prompt",
    "the snippet for an agent's AGENTS.md / CLAUDE.md",
    "operator",
    program="prompt",
)
verb(
    [("doctor",)],
    None,
    set(),
    "np doctor",
    "check the database's health (exit 0 healthy, 1 naming the problem)",
    "operator",
    program="doctor",
)
verb(
    [("backup",)],
    None,
    set(),
    "np backup PATH",
    "a consistent copy of the database while agents keep writing (never overwrites: PATH "
    "must not exist yet, or be a folder to get np-backup-<UTC time>.db in it)",
    "operator",
    program="backup",
    takes_word=True,
)
verb(
    [("db", "migrate")],
    None,
    set(),
    "np db migrate",
    "create or upgrade np's tables (a shared PostgreSQL database migrates only this way)",
    "operator",
    program="db-migrate",
)
verb(
    [("db", "copy")],
    None,
    set(),
    "np db copy FROM TO",
    "copy one np database into an empty one (SQLite ↔ PostgreSQL), checked",
    "operator",
    program="db-copy",
    takes_two_words=True,
)
verb(
    [("help",)],
    None,
    set(),
    "np help [COMMAND]",
    "this help, or one command's",
    "operator",
    program="help",
    takes_word=True,
)

_HEADINGS = {
    "agent": "For the agent (each command's output teaches the next step):",
    "operator": "For the operator:",
}


def help_text() -> str:
    """``np --help``: built from the verb table, agent verbs first."""
    width = max(len(v.usage) for v in ORDER if len(v.usage) <= 38)
    lines = [f"np {__version__} — nasin pali, the way of work: a plan for an AI coding agent."]
    for audience, heading in _HEADINGS.items():
        lines += ["", heading]
        for v in ORDER:
            if v.audience == audience:
                summary = v.summary.split(" (never")[0]
                if len(v.usage) > width:  # a long synopsis: the summary goes below it
                    lines += [f"  {v.usage}", f"  {'':<{width}}  {summary}"]
                else:
                    lines.append(f"  {v.usage:<{width}}  {summary}")
    import textwrap

    long_forms = [" ".join(v.paths[1]) for v in ORDER if len(v.paths) > 1]
    lines += [
        "",
        *textwrap.wrap(
            "Long forms (short and long words mix: np task a, np t add): np "
            + ", np ".join(long_forms)
            + ".",
            96,
        ),
        "Help on one command: np help COMMAND (or np COMMAND --help).",
        "",
        "Global options (before or after the command): --json, --db PATH, -C DIR,",
        "--actor NAME (who is acting; default $NP_ACTOR, else agent).",
        "Statuses: pending, in_progress, completed, failed, cancelled.",
        f"Exit codes: {EXIT_SUMMARY}.",
        "Data: --db, else $NP_DB, else $XDG_DATA_HOME/np/np.db (if absolute), "
        "else ~/.local/share/np/np.db.",
    ]
    return "\n".join(lines)


def _subcommands(path: tuple[str, ...]) -> list[Verb]:
    """The verbs one word below ``path`` (``np t`` → ``np t a``, ``np t u``, ``np t e``),
    each once whatever its spellings, in the order ``np --help`` lists them."""
    found: list[Verb] = []
    for key, v in VERBS.items():
        if len(key) == len(path) + 1 and key[: len(path)] == path and v not in found:
            found.append(v)
    return found


def command_help(path: tuple[str, ...]) -> str | None:
    """``np help COMMAND`` / ``np COMMAND --help``: usage and summary, then the commands
    below it (``np help t`` lists ``np t a``, ``np t u``, ``np t e``); None if unknown."""
    v = VERBS.get(path)
    below = _subcommands(path)
    if v is None and not below:
        return None
    lines = []
    if v is not None:
        names = ", ".join(" ".join(p) for p in v.paths)
        lines += [f"Usage: {v.usage}", f"{v.summary[:1].upper()}{v.summary[1:]}."]
        lines.append(f"Also spelled: {names}.")
    if below:
        lines.append("Its commands:" if v is not None else f"np {' '.join(path)}:")
        width = max(len(s.usage) for s in below)
        lines += [f"  {s.usage:<{width}}  {s.summary}" for s in below]
        lines.append(f"Help on one: np help {' '.join(below[0].paths[0])}.")
    return "\n".join(lines)


def _stray_word(path: tuple[str, ...], v: Verb, word: str) -> UsageError:
    """A word after a verb that takes none: say which flag carries it."""
    shown = _shown(word)
    quoted = f'"{shown}"' if " " in shown or not shown else shown
    spelled = " ".join(path)
    if "id" in v.options and v.command in ("np.task.update", "np.task.edit"):
        example = f"np {spelled} -i {quoted}" + (" -s <status>" if "status" in v.options else "")
        return UsageError(f"Unexpected word {shown!r}: name the task with -i ({example}).")
    if "title" in v.options:
        return UsageError(
            f"Unexpected word {shown!r}: give a title with -t (np {spelled} -t {quoted})."
        )
    if "id" in v.options:
        return UsageError(f"Unexpected word {shown!r}: name tasks with -i (np {spelled} -i ID).")
    return UsageError(
        f"Unexpected word {shown!r}; `np {spelled} --help` shows what this command takes."
    )


def resolve(words: list[str]) -> tuple[tuple[str, ...], Verb, str | None]:
    """The verb named by ``words``, its path and its positional word (``np backup PATH``).

    Raises:
        UsageError: no verb, an unknown one, or a stray word, with the flag that carries it.
    """
    if not words:
        raise UsageError("Say what to do; `np s` starts a session, `np --help` lists commands.")
    path = tuple(words)
    if path[0] == "help":  # np help [COMMAND …]: the rest names the command
        return path[:1], VERBS[path[:1]], " ".join(path[1:]) or None
    if path in VERBS:
        return path, VERBS[path], None
    if path[:2] in VERBS and VERBS[path[:2]].takes_two_words:
        v = VERBS[path[:2]]
        if len(path) != 4:
            raise UsageError(f"Give two places. Usage: {v.usage}")
        return path[:2], v, None  # the program reads both words itself
    head = path[:-1]
    if head in VERBS and VERBS[head].takes_word:
        return head, VERBS[head], path[-1]
    if path[:1] in VERBS and VERBS[path[:1]].takes_word and len(path) > 2:
        raise UsageError(f"Unexpected word {_shown(words[2])!r}; give one PATH.")
    if len(words) > 2 and path[:2] in VERBS:
        raise _stray_word(path[:2], VERBS[path[:2]], words[2])
    if len(words) > 1 and path[:1] in VERBS:
        sub = sorted(
            {" ".join(v.paths[0]) for k, v in VERBS.items() if len(k) == 2 and k[0] == words[0]}
        )
        v = VERBS[path[:1]]
        if sub and not (v.options & {"title", "id"}):
            raise UsageError(
                f"Unknown subcommand {_shown(words[1])!r}; try: np {', np '.join(sub)}."
            )
        if sub and words[1].isalpha() and len(words[1]) <= 8 and words[1].islower():
            raise UsageError(
                f"Unknown subcommand {_shown(words[1])!r}; try: np {', np '.join(sub)}."
            )
        raise _stray_word(path[:1], v, words[1])
    below = _subcommands(path[:1])
    if below:  # a group without a verb of its own: np db
        names = ", ".join("np " + " ".join(s.paths[0]) for s in below)
        if len(words) == 1:
            raise UsageError(f"np {_shown(words[0])} needs one more word; try: {names}.")
        raise UsageError(f"Unknown subcommand {_shown(words[1])!r}; try: {names}.")
    raise UsageError(f"Unknown command {_shown(words[0])!r}; `np --help` lists commands.")
