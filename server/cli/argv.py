"""The argv grammar of ``np``: flags, values, words, and the recorded command line.

Hand-written on purpose: ``-t``/``-d`` and ``-i``/``-s``/``-r`` pair by position, values may
begin with ``-``, and global flags may stand before or after the subcommand. As with getopt,
a short option's value may be attached (``-n1``) and a long one's follow ``=``
(``--limit=1``). Stdlib only.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

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
    "--actor": "actor",
    "-q": "question",
    "--question": "question",
    "--choice": "output",  # np t q: -o CHOICE (elsewhere -o is --output)
    "-a": "answer",
    "--answer": "answer",
    "--after": "after",
    "--key": "key",
    "--host": "host",
    "--port": "port",
}
BOOL_FLAGS = {
    "--json": "json",
    "--all": "all",
    "-h": "help",
    "--help": "help",
    "--version": "version",
    "--stdio": "stdio",  # what language clients pass; stdio is np serve's only transport
    "--force": "force",
    "--withdraw": "withdraw",
    "--take": "take_over",
    "--install": "install",
}
# Options whose empty (or blank) value names nothing: refused with what to give, rather than
# taken as absent (--session "" would act on the current session) or looked up as a name
# ("No task with id  in this session"). -C and --db have their own checks; -t, -d and -r
# reach the store, whose sentences say what a blank title or reason means.
EMPTY_REFUSED = {
    "id": "-i needs a task id; `np t` lists them.",
    "status": "-s needs a status: pending, in_progress, completed, failed or cancelled.",
    "session": "--session needs a session id; `np ls --all` lists them.",
    "format": "--format needs a format: markdown or json.",
}
GLOBAL_OPTIONS = {"db", "dir", "json", "help", "version", "actor"}


def _shown(word: str, limit: int = 40) -> str:
    """A word of argv as a message may quote it: well-formed, at most ``limit`` characters."""
    from store.text import printable, shorten

    return shorten(printable(word), limit)


class UsageError(Exception):
    """Bad argv: printed as one line (exit 2), or as ``invalid_argument`` error JSON."""


class Parsed:
    """Words, ``(option, value)`` pairs in argv order (for positional pairing), and flags."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.options: list[tuple[str, str]] = []  # in order, for positional pairing
        self.flags: set[str] = set()
        self.unknown: list[str] = []  # options np does not know (reported once the verb is)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.options if k == name]

    def one(self, name: str) -> str | None:
        found = self.values(name)
        if len(found) > 1:
            raise UsageError(f"Give --{name.replace('_', '-')} only once.")
        return found[0] if found else None


def tokenize(argv: Sequence[str]) -> Parsed:
    """Split argv into words, option pairs and flags; raises ``UsageError`` for a flag
    without its value. Unknown options are collected in ``unknown``: the caller reports
    them with the verb's own ``--help``."""
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
        if not eq and not arg.startswith("--") and len(arg) > 2 and arg[:2] in VALUE_FLAGS:
            name, eq, inline = arg[:2], "=", arg[2:]  # -n1, -isb12: attached, as getopt takes it
        if name in BOOL_FLAGS and not eq:
            parsed.flags.add(BOOL_FLAGS[name])
            continue
        if name in VALUE_FLAGS:
            if eq:
                value = inline
            elif i < len(args):
                # the next word is the value whatever it looks like ("-r --json", "-t -C"),
                # as getopt and argparse take the argument of an option that requires one
                value = args[i]
                i += 1
            else:
                raise UsageError(f"{name} needs a value.")
            if VALUE_FLAGS[name] in EMPTY_REFUSED and not value.strip():
                raise UsageError(EMPTY_REFUSED[VALUE_FLAGS[name]])
            parsed.options.append((VALUE_FLAGS[name], value))
            continue
        parsed.unknown.append(_shown(arg))
    return parsed


def check_options(parsed: Parsed, allowed: set[str] | frozenset[str], usage: str) -> None:
    """Refuse options and flags the command does not take (``UsageError`` naming the usage)."""
    for name, _ in parsed.options:
        if name not in allowed and name not in GLOBAL_OPTIONS:
            spelled = next(k for k, v in VALUE_FLAGS.items() if v == name)
            raise UsageError(f"This command does not take {spelled}. Usage: {usage}")
    for flag in parsed.flags:
        if flag not in allowed and flag not in GLOBAL_OPTIONS:
            raise UsageError(f"This command does not take --{flag}. Usage: {usage}")


CMD_MAX = 1000


def _no_secret(arg: str) -> str:
    """``arg`` with the password of a database URL in it masked (``--db postgresql://…``)."""
    if "://" not in arg:
        return arg
    from store.url import redact_text  # one masking for every door (a / in a password too)

    return redact_text(arg)


def command_line(argv: Sequence[str]) -> str:
    """What an event records as its ``cmd``: the argv, shell-quoted, capped in length, with
    any database password masked (the log is read by everyone who shares the database)."""
    from store.text import printable, shorten

    line = " ".join(["np", *(shlex.quote(printable(_no_secret(a))) for a in argv)])
    return shorten(line, CMD_MAX)
