"""The eight np tools a model sees over MCP, and their translation onto the command table.

The tools themselves (``TOOLS``, the exact ``tools/list`` entries) are in
:mod:`server.mcp.schema`, which np mcp answers from before anything else is loaded. Each
tool is a thin translation onto one or two commands of ``server.commands``; operator
commands (archive, list, log, export, monitor, doctor, backup) are not tools, so a model is
never offered them.

:func:`call` returns the one text block of a result: the "changed since you last looked"
notice when there is one, the compact plan, then the next step in this door's terms. Every
failure is a ``store.NpError`` whose kind and sentence :func:`error_text` turns into
``Failed (kind): the next step. Why.``

Nothing here imports an MCP library.
"""

from __future__ import annotations

import os

from store import InvalidArgument, NpError, Store
from store.paths import working_folder
from store.text import describe_char, first_ill_formed

from ..commands import Context, execute
from . import words
from .schema import FIELDS, HOST_FIELDS, JSON, READ_ONLY, TOOL_NAMES, TOOLS

__all__ = ["READ_ONLY", "TOOLS", "TOOL_NAMES", "call", "default_dir", "error_text"]


def default_dir(option: str | None, cwd: str | None, home: str | None) -> str | None:
    """Where a tool call without ``dir`` acts: ``np mcp -C DIR``, else the server's working
    directory unless it is ``/`` or ``$HOME`` (hosts start servers there), else ``None``."""
    if option:
        return os.path.abspath(option)
    if not cwd:
        return None
    here = os.path.realpath(cwd)
    if home and here == os.path.realpath(home):
        return None
    return working_folder(cwd)  # the one rule of every door (store.paths)


def _fallback(given: object, fallback: str | None) -> None:
    """A call without ``dir`` needs a directory to act in (the command table checks a
    ``dir`` that was given, and the fallback was checked when the server started)."""
    if given is None and fallback is None:
        raise InvalidArgument(words.NO_DIR, field="dir")


def _text(result: JSON) -> str:
    """A result's one text block: the "changed since you last looked" notice first (when
    another actor changed the plan), then the plan, then the next step (when there is one)."""
    parts = [result.get("notice"), result["text"], result.get("guide")]
    return "\n\n".join(str(p) for p in parts if p)


def call(
    name: str,
    arguments: JSON | None,
    store: Store,
    fallback: str | None,
    cmd: str,
    actor: str | None = None,
) -> str:
    """Run tool ``name`` and return its result text.

    ``fallback`` is the directory a call without ``dir`` acts in (see :func:`default_dir`);
    ``cmd`` is what each event records as its command and ``actor`` who made it (the MCP
    client's name), whose "changed since you last looked" notice leads the result.

    Raises:
        store.NpError: an unknown field, a bad shape, or any failure of the command.
        KeyError: ``name`` is not in :data:`TOOL_NAMES`.
    """
    fields = FIELDS[name]
    args = {k: v for k, v in (arguments or {}).items() if k not in HOST_FIELDS}
    for key in args:
        if key not in fields:
            raise InvalidArgument(
                f"Unknown field {str(key)[:40]!r}; {name} takes: {', '.join(sorted(fields))}.",
                field=str(key)[:40],
            )
    _fallback(args.get("dir"), fallback)
    # "dir", when given, goes to the command table, which checks it as every door's.
    where = {} if args.get("dir") is None else {"dir": args["dir"]}
    ctx = Context(store, fallback, cmd, preview=True, door="mcp", actor=actor)
    match name:
        case "np_start":
            return _text(execute("np.session.start", ctx, where))
        case "np_resume":
            return _text(execute("np.session.resume", ctx, where))
        case "np_plan":
            task_id = args.pop("id", None)
            if task_id is not None:  # one task, whole
                if isinstance(task_id, str):
                    _well_formed_id(task_id)
                args["ids"] = [task_id] if isinstance(task_id, str) else task_id
            elif args.get("status") in (None, [], ""):  # no filter: the whole plan
                return _text(execute("np.plan", ctx, where))
            return _text(execute("np.task.list", ctx, args))
        case "np_goal":
            if args.get("reason") is None:
                args.pop("reason", None)
                return _text(execute("np.goal.set", ctx, args))
            return _text(execute("np.goal.change", ctx, args))
        case "np_add":
            return _text(execute("np.task.add", ctx, args))
        case "np_update":
            return _text(execute("np.task.update", ctx, args))
        case "np_edit":
            if {"question", "choices", "withdraw"} & set(args):  # a question, not a rewording
                return _text(execute("np.task.ask", ctx, args))
            return _text(execute("np.task.edit", ctx, args))
        case "np_next":
            return _text(execute("np.task.next", ctx, args))
    raise KeyError(name)  # pragma: no cover - every name in TOOLS is matched above


def _well_formed_id(task_id: str) -> None:
    bad = first_ill_formed(task_id)
    if bad is not None:
        raise InvalidArgument(
            f"The field 'id' is not valid text: it holds {describe_char(task_id[bad])}.",
            field="id",
        )


def error_text(exc: NpError) -> str:
    """An error result's text: ``Failed (kind): the next step. Why.``"""
    return words.error_message(exc)
