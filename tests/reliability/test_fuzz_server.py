"""Protocol fuzzing of ``np serve`` with hypothesis, over raw bytes.

Random command names with random argument lists, random JSON-RPC envelopes, random frame
bodies, garbage between frames and lying ``Content-Length`` headers. After every example:
each request that carried a usable id was answered, a sentinel request sent behind the
fuzz input is answered (the server is alive and back in sync with the stream), errors
carry no traceback or file path, and a rejected command left the database byte-for-byte
as it was. (The server's own fuzz tests live in ``tests/server/``.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import ROOT, np_cmd

from bench.lspclient import RawLspClient, ServerGone, encode, frame

COMMANDS = [
    "np.session.start",
    "np.session.resume",
    "np.session.archive",
    "np.session.list",
    "np.plan",
    "np.goal.set",
    "np.goal.change",
    "np.task.list",
    "np.task.add",
    "np.task.update",
    "np.task.edit",
    "np.task.next",
    "np.task.wait",
    "np.session.join",
    "np.events",
    "np.export",
]
FIELDS = [
    "after",
    "key",
    "take_over",
    "dir",
    "sid",
    "title",
    "description",
    "reason",
    "id",
    "status",
    "tasks",
    "updates",
    "format",
    "limit",
    "after_seq",
    "state",
    "newest_first",
]
LEAK = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|" + re.escape(str(ROOT)) + "|" + re.escape(sys.prefix)
)
ANSWER_TIMEOUT = 10.0
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["pending", "completed", "failed", "", " ", "\x00", "a\nb", "é☑", "/"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# Argument objects shaped like the real ones, with wrong types and unknown keys mixed in.
task_items = st.lists(
    st.dictionaries(
        st.sampled_from(["title", "description", "id", "status", "reason", "x"]),
        scalars,
        max_size=3,
    ),
    max_size=4,
)
argument_objects = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10),
    scalars | task_items | json_values,
    max_size=5,
)
command_names = (
    st.sampled_from(COMMANDS)
    | st.text(max_size=30)
    | st.sampled_from(["np.", "np.plan ", "NP.PLAN", "np.task", "np.task.delete", "np/plan"])
)
argument_lists = st.lists(argument_objects | json_values, max_size=3)

# Methods a client may send; shutdown and exit are left out (they end the session).
methods = st.sampled_from(
    [
        "workspace/executeCommand",
        "initialize",
        "initialized",
        "$/cancelRequest",
        "$/setTrace",
        "textDocument/didOpen",
        "textDocument/hover",
        "workspace/didChangeWorkspaceFolders",
        "np/didChange",
        "np/plan",
    ]
) | st.text(max_size=30).filter(lambda m: m not in ("shutdown", "exit"))
ids = (
    st.integers(min_value=10**12, max_value=10**15)
    | st.text(min_size=1, max_size=12).map(lambda s: "fz-" + s)
    | st.none()
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.lists(st.integers(), max_size=2)
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0", "", 2.0]),
        "id": ids,
        "method": methods | scalars,
        "params": json_values
        | st.fixed_dictionaries({"command": command_names, "arguments": argument_lists}),
        "result": json_values,
    },
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | envelopes.map(lambda v: json.dumps(v).encode())
    | envelopes.map(lambda v: json.dumps(v).encode()[: max(1, len(json.dumps(v)) // 2)])
)
garbage = st.binary(max_size=200).filter(lambda b: b"content-length" not in b.lower())


# -- the server under test --------------------------------------------------------------------


def _seed(db: Path, project: Path) -> None:
    from server.commands import Context, execute
    from store import Store

    with Store(str(db)) as store:
        ctx = Context(store, str(project), "seed")
        execute("np.session.start", ctx, {})
        execute("np.goal.set", ctx, {"title": "Fuzz", "description": "Keep serving."})
        execute("np.task.add", ctx, {"tasks": [{"title": "one"}, {"title": "two"}]})


def digest(db: Path) -> str:
    """Every row of every np table, hashed: equal digests mean nothing was written."""
    conn = sqlite3.connect(db)
    try:
        h = hashlib.sha256()
        for table, order in (
            ("sessions", "sid"),
            ("goals", "sid"),
            ("tasks", "sid, id"),
            ("events", "id"),
        ):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        conn.close()


class Served:
    def __init__(self, client: RawLspClient, db: Path, project: Path) -> None:
        self.client = client
        self.db = db
        self.project = project
        self.sentinels = itertools.count()

    def assert_alive(self) -> None:
        """A request sent behind whatever came before is answered: alive and in sync."""
        msg_id = f"sentinel-{next(self.sentinels)}"
        fut = self.client.expect(msg_id)
        self.client.send(
            {
                "jsonrpc": "2.0",
                "id": msg_id,
                "method": "workspace/executeCommand",
                "params": {"command": "np.session.list", "arguments": [{}]},
            }
        )
        try:
            response = fut.result(ANSWER_TIMEOUT)
        except (TimeoutError, ServerGone) as exc:
            raise AssertionError(f"server stopped answering ({exc!r})") from None
        assert "result" in response, response
        assert self.client.proc.poll() is None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the whole module (start-up costs a second); every test leaves it
    serving, which is the point."""
    base = tmp_path_factory.mktemp("fuzz")
    db = base / "np.db"
    project = base / "project"
    project.mkdir()
    _seed(db, project)
    env = {**os.environ, "NP_DB": str(db)}
    env.pop("NP_DEBUG", None)
    client = RawLspClient([*np_cmd(), "serve"], env=env, cwd=project)
    try:
        response = client.initialize(project, name="fuzz")
        assert "result" in response, response
        yield Served(client, db, project)
        assert client.proc.poll() is None, "the server died"
    finally:
        code = client.close()
    assert code == 0


def check_error(error: Any) -> None:
    assert isinstance(error, dict), error
    assert isinstance(error.get("code"), int) and not isinstance(error["code"], bool)
    message = error.get("message")
    assert isinstance(message, str) and message, error
    text = json.dumps(error)
    assert not LEAK.search(text), text[:2000]
    assert len(text) < 20_000


# -- the fuzz tests ---------------------------------------------------------------------------


@settings(FUZZ, max_examples=150)
@given(name=command_names, arguments=argument_lists)
def test_random_commands_and_arguments(served: Served, name: str, arguments: list[Any]) -> None:
    before = digest(served.db)
    try:
        response = served.client.execute(name, *arguments, timeout=ANSWER_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"no answer to {name!r} {arguments!r}") from None
    assert ("result" in response) != ("error" in response), response
    if "error" in response:
        check_error(response["error"])
        assert digest(served.db) == before, f"rejected {name!r} changed the database"
    else:
        assert isinstance(response["result"], dict)
    assert served.client.proc.poll() is None


def _expects_answer(body: bytes) -> Any:
    """The id the server must answer, for a body that is a readable request; else None."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or "id" not in data:
        return None
    msg_id = data["id"]
    if isinstance(msg_id, bool) or not isinstance(msg_id, int | str):
        return None
    if "method" not in data and ("result" in data or "error" in data):
        return None  # looks like a response to a request of the server's
    if data.get("method") in ("shutdown", "exit"):
        return None
    return msg_id


@settings(FUZZ, max_examples=150)
@given(body=bodies)
def test_random_frames_are_answered_or_skipped(served: Served, body: bytes) -> None:
    msg_id = _expects_answer(body)
    fut = served.client.expect(msg_id) if msg_id is not None else None
    served.client.send_bytes(frame(body))
    if fut is not None:
        try:
            response = fut.result(ANSWER_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"no answer to {body[:300]!r}") from None
        if "error" in response:
            check_error(response["error"])
    served.assert_alive()
    while not served.client.orphans.empty():  # answers to what we did not count on
        orphan = served.client.orphans.get_nowait()
        if "error" in orphan:
            check_error(orphan["error"])


@settings(FUZZ, max_examples=40)
@given(junk=garbage, before=st.booleans())
def test_garbage_between_frames_is_skipped(served: Served, junk: bytes, before: bool) -> None:
    request = encode(
        {
            "jsonrpc": "2.0",
            "id": "fz-wrapped",
            "method": "workspace/executeCommand",
            "params": {"command": "np.session.list", "arguments": [{}]},
        }
    )
    fut = served.client.expect("fz-wrapped")
    data = junk + b"\r\n" + request if before else request + junk + b"\r\n"
    served.client.send_bytes(data)
    assert "result" in fut.result(ANSWER_TIMEOUT)
    served.assert_alive()


@pytest.mark.parametrize("delta", [-7, -1, 1, 9, 5000])
def test_a_lying_content_length_does_not_lose_the_stream(served: Served, delta: int) -> None:
    """Understated (the body runs on) or overstated (the server waits for bytes that never
    come, then takes what it has or cuts at the next header): the next request is served."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "fz-liar",
            "method": "workspace/executeCommand",
            "params": {"command": "np.plan", "arguments": [{}]},
        }
    ).encode()
    served.client.send_bytes(b"Content-Length: %d\r\n\r\n" % (len(body) + delta) + body)
    served.assert_alive()  # the request after the lie is answered
    before = digest(served.db)
    served.assert_alive()
    assert digest(served.db) == before


def test_oversized_strings_are_refused_quickly(served: Served) -> None:
    before = digest(served.db)
    huge = "x" * 2_000_000
    for name, argument in (
        ("np.task.add", {"tasks": [{"title": huge}]}),
        ("np.goal.change", {"title": "t", "description": huge, "reason": "r"}),
        ("np.plan", {"sid": huge}),
        ("np.task.update", {"updates": [{"id": huge, "status": "completed"}]}),
    ):
        response = served.client.execute(name, argument, timeout=ANSWER_TIMEOUT)
        assert "error" in response, name
        check_error(response["error"])
    assert digest(served.db) == before
    served.assert_alive()
