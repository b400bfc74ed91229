"""``np``: the command line front door.

It parses argv (``argv``) into the one JSON-object argument of a command in the table
(``server.commands``) by the verb table (``verbs``), runs it, and prints the result
(``output``) as compact text or, with ``--json``, as the exact SPEC §5 result object.

The import path stays lean: until a table command runs, nothing but the stdlib and these
modules is loaded (no sqlite3, attrs, pygls or rich); ``np prompt`` and ``np --help`` never
load them. The other front doors (``np serve``, ``np m``, ``np mcp``) are started through
``PROGRAMS``, by module name: the CLI is their launcher, not their user, so it imports none
of them (import-linter contract ``doors-independent``).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from server.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, OutputFailed
from server.version import __version__

from .argv import Parsed, UsageError, check_options, command_line, tokenize
from .output import (
    SAVED,
    UNSAVED,
    dump,
    dump_parts,
    flush_stdout,
    print_error,
    print_internal_error,
    print_output_failed,
    print_usage_error,
    setup_streams,
    silence_stdout,
    write,
    write_parts,
)
from .verbs import VERBS, Verb, command_help, help_text, resolve

# Programs started by the CLI, by module name and function (imported only when run). The doors
# among them are independent packages; a string here keeps that independence checkable.
PROGRAMS: dict[str, tuple[str, str]] = {
    "serve": ("server.lsp.server", "serve"),
    "monitor": ("server.monitor.screen", "run_monitor"),
    "mcp": ("server.mcp", "serve"),
    "web": ("server.web", "serve"),
    "doctor": ("server.cli.maintenance", "run_doctor"),
    "backup": ("server.cli.maintenance", "run_backup"),
    "db-migrate": ("server.cli.maintenance", "run_migrate"),
    "db-copy": ("server.cli.maintenance", "run_copy"),
    "hooks": ("server.cli.hooks", "run_hooks"),
    "bridge": ("server.cli.hooks", "run_bridge"),
}

if TYPE_CHECKING:
    from store import Store


def program(name: str) -> Callable[..., int]:
    """The entry function of a program in ``PROGRAMS`` (imports its module now)."""
    module, function = PROGRAMS[name]
    entry: Callable[..., int] = getattr(importlib.import_module(module), function)
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``np`` with ``argv`` (default ``sys.argv[1:]``); return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    setup_streams()
    code = _main(args)
    db = sys.modules.get("store.sqlite.conn")
    if db is not None and getattr(db, "parked_connections", lambda: 0)():
        # A database file was replaced under this process: end without letting SQLite
        # close the old file's connections (store.sqlite.conn.reopen_if_replaced says why).
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
        logging = sys.modules.get("logging")
        if logging is not None:
            logging.shutdown()
        os._exit(code)
    return code


def _main(args: list[str]) -> int:
    as_json = "--json" in args
    try:
        try:
            code = _run(args)
        except UsageError as exc:
            code = _mcp_answers(str(exc), print_usage_error(str(exc), as_json))
        except (BrokenPipeError, OutputFailed, KeyboardInterrupt):
            raise
        except Exception as exc:  # never a traceback for the user
            from store import NpError

            if isinstance(exc, NpError):
                code = _mcp_answers(exc.message, print_error(exc, as_json))
            else:
                code = print_internal_error(exc, as_json)
        flush_stdout()
        return code
    except OutputFailed as exc:
        return print_output_failed(exc, as_json)
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        if SAVED:  # interrupted after the commit: the change stands, and np says so
            write(sys.stderr, f"np: {SAVED[-1][0]} before the interruption.")
        elif UNSAVED:
            write(sys.stderr, "np: Interrupted before the change was saved; nothing was written.")
        return EXIT_INTERRUPTED


def _mcp_answers(problem: str, code: int) -> int:
    """When ``np mcp`` already answers its client (``server.main`` started its front before
    the options were read) but cannot run as configured (a missing ``-C``, a bad ``NP_DB``):
    every request the client sends still gets its answer — each tool call an error result
    naming ``problem`` — until it closes stdin; then ``code``. Otherwise ``code``."""
    front = sys.modules.get("server.mcp.front")
    if front is None or front.not_started():
        return code
    program("mcp")(":memory:", None, None, problem=problem)
    return code


def _run(args: list[str]) -> int:
    parsed = tokenize(args)
    if "version" in parsed.flags:
        write(sys.stdout, f"np {__version__}")
        return EXIT_OK
    if parsed.unknown:
        raise UsageError(_unknown_options(parsed))
    if not parsed.words:
        if "help" in parsed.flags:
            write(sys.stdout, help_text())
            return EXIT_OK
        write(sys.stderr, help_text())
        return EXIT_USAGE
    if "help" in parsed.flags:
        write(sys.stdout, command_help(tuple(parsed.words)) or help_text())
        return EXIT_OK
    _path, v, word = resolve(parsed.words)
    check_options(parsed, v.options, v.usage)
    if v.command is None:
        return _run_program(v, word, parsed)
    assert v.build is not None and v.text is not None
    argument = v.build(parsed)
    key = parsed.one("key")
    if key is not None:
        argument["key"] = key  # an idempotency key: the same key again writes nothing
    db_path = _db(parsed)
    directory = _dir(parsed)
    actor = _actor(parsed)
    as_json = "json" in parsed.flags
    output = _file_arg(parsed.one("output")) if v.command == "np.export" else None
    if v.command == "np.export" and output and not as_json:
        _check_output(output, "force" in parsed.flags, db_path)

    from server.commands import COMMANDS, Context, execute
    from store import Store

    if v.command not in CREATES_DATABASE and _no_database(db_path):
        # Only `np s` creates the database: a read, or a write that needs a session (all
        # others), never leaves a stray empty file (and folders) where a mistyped --db or
        # NP_DB points, for the next `np s` to plan in.
        if v.command != "np.session.list":
            raise _no_database_error(db_path)
        db_path = ":memory:"  # nothing there yet: the same empty list, and no file made

    stream = v.command in STREAMED
    with Store(db_path, read_when_full=True) as store:
        context = Context(
            store,
            directory,
            command_line(args),
            preview=not as_json,
            door="cli",
            actor=actor or store.actor(_default_agent()),
            stream=stream,
        )
        _interrupt_on_termination(store)
        writes = COMMANDS[v.command].writes
        try:
            # Notices are marked seen once the output carrying them is written (below).
            result = execute(v.command, context, argument, mark=False)
            if writes and store.commits:  # at once: an interruption now reports the change
                SAVED.append(
                    (
                        "The change was saved",
                        " Do not run the command again; `np p` shows the plan.",
                    )
                )
        except KeyboardInterrupt:
            if writes and store.commits and not SAVED:  # committed, then interrupted
                SAVED.append(("The change was saved", " `np p` shows the plan."))
            elif writes and not store.commits:  # e.g. while it waited for the write lock
                UNSAVED.append(True)
            raise
        except Exception as exc:
            if not store.commits:
                raise
            if _damaged(exc):  # committed into a damaged file: say so, never "saved"
                raise _damaged_after_commit(exc) from None
            # committed, then reading the plan back failed: the change stands
            SAVED.append(("The change was saved", " `np p` shows the plan once it can be read."))
            raise OutputFailed(f"reading it back failed: {_sentence(exc)}") from None
        # Written inside the store's block: a streamed result (np log, np export) is read
        # page by page while it is written.
        if as_json:
            code = EXIT_OK
            if stream:
                write_parts(sys.stdout, dump_parts(result))
            else:
                write(sys.stdout, dump(result))
        else:
            code = _emit(v, result, output, "force" in parsed.flags)
        flush_stdout()
        # The output is out: what it told of others' changes is now seen (a failed output
        # leaves them for the next command).
        store.mark_seen()
    return code


# Commands whose output (text or --json) the CLI writes as it reads it (Context.stream):
# the whole log.
STREAMED = frozenset({"np.events", "np.export"})


def _emit(v: Verb, result: dict[str, Any], output: str | None, force: bool) -> int:
    """Print a result as text (or write the export to its file), whole or in pieces."""
    if v.command == "np.export":
        return _emit_export(result, output, force)
    assert v.text is not None
    text = v.text(result)
    notice = result.get("notice")  # what others changed since this actor last looked
    if isinstance(text, str):
        write(sys.stdout, f"{notice}\n\n{text}" if notice else text)
    else:
        write_parts(sys.stdout, itertools.chain([f"{notice}\n\n"] if notice else [], text))
    return EXIT_OK


# Signals that arrived while a unit of work was committing, held until the commit is
# counted (see _interrupt_on_termination).
_HELD: list[int] = []
_HOLDING: list[bool] = [False]


@contextlib.contextmanager
def _hold_interrupts() -> Iterator[None]:
    """The store's ``commit_guard``: a stop that arrives during a COMMIT takes effect once
    the commit is counted, so np knows to say the change was saved."""
    _HOLDING[0] = True
    try:
        yield
    finally:
        _HOLDING[0] = False
        if _HELD:
            _HELD.clear()
            raise KeyboardInterrupt


def _interrupt_on_termination(store: Store) -> None:
    """SIGTERM, SIGHUP and Ctrl-C stop a command as ``KeyboardInterrupt``, so it never ends
    silently: a unit of work is all or nothing, and when it committed before the stop np
    says so ("The change was saved before the interruption", exit 130). A stop during the
    COMMIT waits for it to be counted (a stop raised between the two would leave a commit
    nobody was told about)."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        if _HOLDING[0]:
            _HELD.append(signum)
            return
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            signal.signal(signum, interrupt)
    store.commit_guard = _hold_interrupts


def _no_database(db_path: str) -> bool:
    """Whether ``db_path`` is a database file that does not exist yet."""
    from store.paths import missing_file

    return missing_file(db_path)


# The commands that can succeed on a database that does not exist yet: they create it.
CREATES_DATABASE = frozenset({"np.session.start"})


def _no_database_error(db_path: str) -> Exception:
    from store import NoActiveSession

    shown = _shown(db_path)
    return NoActiveSession(
        f"There is no np database at {shown} yet, so nothing is planned there.",
        field="db",
        path=shown,
        cause="missing",
    )


def _damaged(exc: BaseException) -> bool:
    """Whether ``exc`` says the database file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB)."""
    from store import StorageError

    return isinstance(exc, StorageError) and exc.damaged


def _damaged_after_commit(exc: Exception) -> Exception:
    """The storage error (exit 3) for a change committed into a file found damaged when
    the plan was read back: the commit is told truthfully, and the way out."""
    from store import StorageError
    from store.errors import committed_into_damage

    assert isinstance(exc, StorageError)
    return committed_into_damage(
        exc,
        "stop np serve and np m, check the file with `np doctor`, and restore the last good "
        "backup (mv it over the file, never cp), then make the change again.",
    )


def _sentence(exc: BaseException) -> str:
    from store import NpError

    return exc.message if isinstance(exc, NpError) else type(exc).__name__


def _unknown_options(parsed: Parsed) -> str:
    """``Unknown option -x.`` and which ``--help`` lists the options that exist."""
    listed = ", ".join(parsed.unknown[:3])
    noun = "option" if len(parsed.unknown) == 1 else "options"
    try:
        path, _v, _word = resolve(parsed.words)
    except UsageError:
        return f"Unknown {noun} {listed}; `np --help` lists the commands and options."
    spelled = "np " + " ".join(path)
    return f"Unknown {noun} {listed}; `{spelled} --help` lists the options it takes."


ACTOR_MAX = 100


def _default_agent() -> str:
    """The name the agent's host gives its MCP client when a known host runs np
    (``claude-code#…``, ``codex-mcp-client`` …: one agent is one actor over MCP and the CLI;
    server.actors), else ``agent`` (the CLI's usual user)."""
    from server.actors import host_actor

    return host_actor(os.environ) or "agent"


def _actor(parsed: Parsed) -> str | None:
    """Who is acting, recorded on every event: ``--actor``, else ``$NP_ACTOR``, else
    ``None``: the store's default for :func:`_default_agent` (the operator passes --actor
    for their own commands), which on a shared database names this machine too."""
    given = parsed.one("actor")
    value = given if given is not None else os.environ.get("NP_ACTOR", "")
    if given is None and not value.strip():
        return None
    name = value.strip()
    if (
        not name
        or len(name) > ACTOR_MAX
        or not name.isprintable()
        or any("\ud800" <= ch <= "\udfff" for ch in name)  # bytes that are not UTF-8
    ):
        source = "--actor" if given is not None else "NP_ACTOR"
        raise UsageError(
            f"{source} needs a name of 1 to {ACTOR_MAX} printable UTF-8 characters, "
            "e.g. --actor ana."
        )
    return name


def _check_output(path: str, force: bool, db_path: str) -> None:
    """Refuse to overwrite an existing file without --force (as np backup never does), and
    any database or its sidecars even with it (``store.outputs``)."""
    from store.outputs import check_output

    if os.path.isdir(path):
        raise UsageError(f"-o {_shown(path)} is a directory; name a file.")
    check_output(path, db_path, field="output", what="the export")
    if os.path.lexists(path) and not force and not _written_into(path):
        raise UsageError(f"{_shown(path)} already exists; add --force to overwrite it.")


def _written_into(path: str) -> bool:
    """Whether ``path`` is (or links to) a pipe, a FIFO, a device or a socket: written into
    as it is (``-o /dev/stdout``, ``-o FIFO``), never replaced, so nothing is overwritten
    and no --force is needed."""
    import stat

    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False  # missing, or a dangling link


def _shown(path: str) -> str:
    """A path as a message quotes it: well-formed text, bounded."""
    from store.text import printable

    return printable(path[:200])


def _emit_export(result: dict[str, Any], output: str | None, force: bool) -> int:
    content = result["content"]
    parts: Iterable[str] = [content] if isinstance(content, str) else content
    if output:
        _write_file(output, parts, force)
        SAVED.append((f"The export was written to {_shown(output)}", ""))
        write(sys.stderr, f"Wrote the {result['format']} export to {_shown(output)}.")
    else:
        write_parts(sys.stdout, parts)
    return EXIT_OK


def _write_file(path: str, parts: Iterable[str], force: bool) -> None:
    """Write the export beside ``path`` first, then give it the name (``--force``:
    replacing the file there), so a failure part-way (the database, a full disk) leaves
    whatever was at ``path`` as it was and no half-written file."""
    import tempfile

    from store import InvalidArgument

    if _written_into(path):
        # A device or a pipe (/dev/stdout, /dev/full, a FIFO) is written into, never
        # replaced: renaming over /dev/full would leave a plain file where the device was.
        try:
            with open(path, "w", encoding="utf-8") as fh:
                for part in parts:
                    fh.write(part)
        except OSError as exc:
            raise InvalidArgument(
                f"Cannot write the export file ({exc.strerror}); choose another path with -o.",
                field="output",
            ) from None
        return
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".np-export-", suffix=".tmp", dir=folder)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # the mode open() would have given it
        with open(fd, "w", encoding="utf-8") as fh:
            for part in parts:
                fh.write(part)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # never over a file that appeared meanwhile
    except FileExistsError:
        raise UsageError(f"{_shown(path)} already exists; add --force to overwrite it.") from None
    except OSError as exc:
        raise InvalidArgument(
            f"Cannot write the export file ({exc.strerror}); choose another path with -o.",
            field="output",
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _cwd() -> str:
    """Where the user stands (:func:`store.paths.logical_cwd`)."""
    from store.paths import logical_cwd

    here = logical_cwd()
    if here is None:
        raise UsageError(
            "The current directory no longer exists; cd somewhere that does, or pass -C DIR."
        )
    return here


def _file_arg(value: str | None) -> str | None:
    """A file path from argv: ``~`` at its start is the home folder even where no shell
    expanded it (``--output=~/plan.md``); empty is refused."""
    if value is None:
        return None
    if value == "":
        raise UsageError("A path option needs a value.")
    from store.paths import expand_home

    return expand_home(value)


def _dir(parsed: Parsed) -> str:
    """``-C DIR`` taken from where the user stands (``cd -L`` semantics), else :func:`_cwd`."""
    given = parsed.one("dir")
    if given is None:
        return _cwd()
    if given == "":
        raise UsageError("-C needs a directory.")
    from store.paths import expand_home

    given = expand_home(given)
    if not os.path.isabs(given):
        given = os.path.normpath(os.path.join(_cwd(), given))
    # checked the same way for every verb, reads and writes alike
    if not os.path.exists(given):
        raise UsageError(f"-C {_shown(given)}: no such directory; give an existing one.")
    if not os.path.isdir(given):
        raise UsageError(f"-C {_shown(given)}: that path is a file, not a directory.")
    return given


def _db(parsed: Parsed) -> str:
    """The database a run uses: ``--db``, else ``NP_DB``/XDG (``store.paths``), as an
    absolute path (a ``file:`` URI read as its path)."""
    from store.paths import db_location, default_db_path

    given = parsed.one("db")
    if given == "":
        raise UsageError("--db needs a path.")
    return db_location(given or default_db_path())


def _run_program(v: Verb, word: str | None, parsed: Parsed) -> int:
    as_json = "json" in parsed.flags
    if v.program == "help":
        path = tuple(word.split()) if word else ()
        text = command_help(path) if path else help_text()
        if text is None:
            raise UsageError(f"Unknown command {word!r}; `np --help` lists commands.")
        write(sys.stdout, text)
        return EXIT_OK
    if v.program == "prompt":
        from server.text.guide import PROMPT

        write(sys.stdout, PROMPT)
        return EXIT_OK
    if v.program == "hooks":
        if word is None:
            raise UsageError(f"Name the host. Usage: {v.usage}")
        given = _dir(parsed) if parsed.one("dir") is not None else None
        return program("hooks")(word, "install" in parsed.flags, given)
    db_path = _db(parsed)
    if v.program == "bridge":
        return program("bridge")(db_path, _dir(parsed) if parsed.one("dir") else None, word)
    if v.program == "monitor":
        # Who answers a question from np m (the a key): --actor, NP_ACTOR, else "operator".
        from store.settings import default_actor

        actor = _actor(parsed) or default_actor(db_path, "operator")
        return program("monitor")(db_path, _dir(parsed), parsed.one("session"), actor)
    if v.program == "serve":  # without -C: the working directory, unless it is no project's
        from store.paths import working_folder

        here = _dir(parsed)
        directory = here if parsed.one("dir") is not None else working_folder(here)
        return program("serve")(db_path, directory, _file_arg(parsed.one("log_file")))
    if v.program == "mcp":  # -C only when given: without it the door applies its own rule
        given = _dir(parsed) if parsed.one("dir") is not None else None
        return program("mcp")(db_path, given, _file_arg(parsed.one("log_file")))
    if v.program == "web":  # the operator's actor: --actor, NP_ACTOR, else "operator"
        port = parsed.one("port")
        if port is not None and not (port.isdigit() and int(port) <= 65535):
            raise UsageError("--port takes a port number from 0 (any free port) to 65535.")
        host = parsed.one("host") or "127.0.0.1"
        from store.settings import default_actor

        actor = _actor(parsed) or default_actor(db_path, "operator")
        return program("web")(db_path, host, int(port) if port else 8765, actor)
    if v.program == "doctor":
        return program("doctor")(db_path, as_json)
    if v.program == "backup":
        if word is None:
            raise UsageError(f"Name the backup file. Usage: {v.usage}")
        return program("backup")(db_path, _file_arg(word) or word, as_json)
    if v.program == "db-migrate":
        return program("db-migrate")(db_path, as_json)
    if v.program == "db-copy":
        source, dest = parsed.words[2:4]
        return program("db-copy")(source, dest, as_json)
    raise UsageError("Unknown command.")  # pragma: no cover


__all__ = ["VERBS", "main"]
