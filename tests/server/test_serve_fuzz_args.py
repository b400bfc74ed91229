"""Hypothesis fuzz of the argument object of every command, through one ``np serve``:
every request is answered with a result or a clean application error, the server stays
alive and in sync, and a rejected request leaves the database exactly as it was.

Kept small and fast; tests/reliability/test_fuzz_server.py fuzzes more broadly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_support import COMMANDS, FIELDS, RawServer, check_reply, server_env


class Fuzz:
    def __init__(self, server: RawServer, db: Path, project: Path, sid: str, task: str) -> None:
        self.server, self.db, self.project, self.sid, self.task = server, db, project, sid, task

    def snapshot(self) -> list[Any]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return [
                conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("sessions", "goals", "tasks", "events")
            ]
        finally:
            conn.close()


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    base = tmp_path_factory.mktemp("fuzz")
    project, db = base / "p", base / "np.db"
    (project / "sub").mkdir(parents=True)
    server = RawServer(server_env(db), project)
    server.initialize(project)
    sid = server.command("np.session.start", {})["result"]["session"]["sid"]
    server.command("np.goal.set", {"title": "g", "description": "d"})
    task = server.command("np.task.add", {"tasks": [{"title": "t"}]})["result"]["added"][0]
    yield Fuzz(server, db, project, sid, task)
    assert server.alive()
    assert server.close() == 0
    assert server.violations == []


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def field_values(fuzz: Fuzz, field: str) -> st.SearchStrategy[Any]:
    """Mostly plausible values for ``field``, so the fuzz gets past the first check."""
    status = st.sampled_from(
        ["pending", "in_progress", "completed", "failed", "cancelled", "done", "", "IN-PROGRESS"]
    )
    ids = st.sampled_from([fuzz.task, fuzz.task.upper(), "zz9", "", " "]) | st.text(max_size=10)
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "dir": st.sampled_from(
            [
                str(fuzz.project),
                str(fuzz.project / "sub"),
                str(fuzz.project / "nope"),
                "",
                "\x00",
                "x" * 5000,
            ]
        ),
        "sid": st.sampled_from([fuzz.sid, "", "0" * 26]) | st.text(max_size=30),
        "state": st.sampled_from(["active", "archived", "all", "ALL", ""]),
        "limit": st.integers(-2, 5),
        "after_seq": st.integers(-2, 10),
        "offset": st.integers(-2, 10),
        "newest_first": st.booleans(),
        "format": st.sampled_from(["markdown", "md", "json", "JSON", "pdf"]),
        "status": st.lists(status, max_size=3) | status,
        "ids": st.lists(ids, max_size=3) | ids,
        "title": st.text(max_size=20),
        "description": st.text(max_size=30),
        "reason": st.text(max_size=20),
        "question": st.text(max_size=20),
        "choices": st.lists(st.text(max_size=5), max_size=3) | st.text(max_size=5),
        "withdraw": st.booleans(),
        "answer": st.text(max_size=20),
        "all": st.booleans(),
        "id": ids,
        "key": st.text(max_size=12),
        "after": st.lists(ids, max_size=3),
        "take_over": st.booleans(),
        "tasks": st.lists(
            st.fixed_dictionaries(
                {"title": st.text(max_size=10)}, optional={"description": st.text(max_size=10)}
            )
            | json_values,
            max_size=3,
        ),
        "updates": st.lists(
            st.fixed_dictionaries(
                {"id": ids, "status": status}, optional={"reason": st.text(max_size=10)}
            )
            | json_values,
            max_size=3,
        ),
    }
    return plausible[field] | json_values


def arguments(fuzz: Fuzz, command: str) -> st.SearchStrategy[Any]:
    fields = FIELDS[command]
    known = st.fixed_dictionaries({}, optional={f: field_values(fuzz, f) for f in fields})
    extra = st.dictionaries(
        st.sampled_from(["bogus", "type_name", "class", "", "_x", "Dir", *fields]),
        json_values,
        max_size=2,
    )
    return st.one_of(
        known,
        known,
        known,
        st.builds(lambda a, b: {**a, **b}, known, extra),
        json_values,
    )


# the plan and argument errors; 1010-1012: changed_since_seen, task_claimed, dependency_refused
APP_ERRORS = set(range(1001, 1008)) | {1010, 1011, 1012}


@pytest.mark.parametrize("command", COMMANDS)
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_fuzzed_arguments(fuzz: Fuzz, command: str, data: st.DataObject) -> None:
    arg = data.draw(arguments(fuzz, command), label="argument")
    before = fuzz.snapshot()
    reply = fuzz.server.command(command, arg)
    if "error" in reply:
        code = reply["error"]["code"]
        assert code in APP_ERRORS, reply
        check_reply(reply, code)
        assert fuzz.snapshot() == before, f"rejected {command} {arg!r} changed the database"
    else:
        assert isinstance(reply["result"], dict)
    assert fuzz.server.proc.poll() is None
