"""The private pygls surface np relies on is still there (``server.lsp.protocol.PYGLS_PRIVATE``).

A pygls upgrade that renames, removes or reshapes one of these fails here, naming it, rather
than as a request that never gets an answer.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from pygls.lsp.server import LanguageServer

from server.lsp.protocol import PYGLS_PRIVATE


def _owner(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def shape(fn: Any) -> str:
    """Parameter names and kinds, without annotations: ``self, msg_id, result=, *, gen``."""
    parts: list[str] = []
    star_done = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star_done = True
            continue
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        parts.append(p.name + ("=" if p.default is not p.empty else ""))
    return ", ".join(parts)


def _instance(owner: Any) -> Any:
    server = LanguageServer("np-contract", "0")
    return server if isinstance(server, owner) else server.protocol


@pytest.mark.parametrize(
    ("owner", "name", "what", "params", "upstream"),
    PYGLS_PRIVATE,
    ids=[e[1] for e in PYGLS_PRIVATE],
)
def test_pygls_still_has(owner: str, name: str, what: str, params: str, upstream: str) -> None:
    cls = _owner(owner)
    where = f"{owner}.{name} (upstream: {upstream})"
    if what == "method":
        assert hasattr(cls, name), f"pygls no longer has {where}; see PYGLS_PRIVATE"
        found = shape(getattr(cls, name))
        assert found == params, (
            f"pygls changed the parameters of {where}: expected ({params}), found ({found}); "
            "review the override in server/lsp/protocol.py"
        )
    elif what == "attribute":
        instance = _instance(cls)
        assert hasattr(instance, name), f"pygls no longer sets {where}; see PYGLS_PRIVATE"
    else:
        source = inspect.getsource(inspect.getmodule(cls))
        assert name in source, f"pygls no longer logs {name!r} ({owner}); see PYGLS_PRIVATE"


def test_the_guard_fails_when_pygls_renames_or_reshapes_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a pygls upgrade would look like: the check fails and names the member."""
    from pygls.protocol.json_rpc import JsonRPCProtocol

    entry = next(e for e in PYGLS_PRIVATE if e[1] == "_send_data")
    original = JsonRPCProtocol._send_data
    monkeypatch.delattr(JsonRPCProtocol, "_send_data")
    monkeypatch.setattr(JsonRPCProtocol, "_write_data", original, raising=False)
    with pytest.raises(AssertionError, match=r"no longer has .*_send_data"):
        test_pygls_still_has(*entry)
    monkeypatch.setattr(
        JsonRPCProtocol, "_send_data", lambda self, data, flush: None, raising=False
    )
    with pytest.raises(AssertionError, match=r"changed the parameters .*_send_data"):
        test_pygls_still_has(*entry)


def test_every_private_override_is_listed() -> None:
    """Each ``_name`` NpProtocol defines or pygls attribute it touches is in PYGLS_PRIVATE."""
    import re
    from pathlib import Path

    from server.lsp import protocol, server

    listed = {e[1] for e in PYGLS_PRIVATE}
    ours = {"_reject", "_dispatch", "_cap", "_valid_id", "_answer", "_respond", "_answer_orphans"}
    ours |= {"_send_spooled", "_header", "_write", "_plain_command"}  # np's own (not pygls')
    used: set[str] = set()
    for module in (protocol, server):
        text = Path(module.__file__ or "").read_text()
        used |= set(re.findall(r"\bdef (_[a-z]\w*)\(self", text))
        used |= set(re.findall(r"\.protocol\.(_[a-z]\w*)", text))
        used |= set(
            re.findall(
                r"self\.(_request_futures|_shutdown|_stop_event|_serialize_message|_ctx_msg_id"
                r"|_send_handler_result)\b",
                text,
            )
        )
    # pygls members the tests replace to simulate a dropped or unanswered request
    tests = Path(__file__).with_name("test_serve_inprocess.py").read_text()
    used |= set(re.findall(r"NpProtocol\.(_[a-z]\w*)", tests))
    missing = {n for n in used if n not in listed and n not in ours and not n.startswith("__")}
    # NpServer's own helpers, not pygls'
    missing -= {"_open", "_execute", "_poll", "_watch", "_serve", "_cancel_main", "_follow_socket"}
    missing -= {"_lock_wait", "_set_write_blocked", "_write_finished", "_after_own_writes"}
    missing -= {"_watch_parent", "_notify"}
    assert not missing, f"private names used but not in PYGLS_PRIVATE: {sorted(missing)}"
