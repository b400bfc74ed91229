"""Wrong argument shapes for every command: each gets ``invalid_argument`` (1007) with a
readable message naming the field, and no traceback or server path; nothing is written."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from serve_support import COMMANDS, FIELDS, Shared, check_exc

pytestmark = pytest.mark.asyncio(loop_scope="module")

BIG = "x" * 2_000_000

# A value of the wrong type for each field.
WRONG_TYPE: dict[str, Any] = {
    "dir": 5,
    "sid": ["s"],
    "state": 1,
    "limit": "3",
    "title": 5,
    "description": {"a": 1},
    "reason": True,
    "status": 5,
    "ids": {"a": 1},
    "tasks": "write code",
    "updates": {"id": "a"},
    "id": 7,
    "after_seq": -1,
    "offset": "2",
    "newest_first": "yes",
    "format": 3,
    "after": 5,
    "key": 5,
    "take_over": "yes",
    "question": 5,
    "choices": {"a": 1},
    "withdraw": "yes",
    "answer": ["a"],
    "all": 1,
}
TEXT_FIELDS = {
    *("dir", "sid", "state", "title", "description", "reason", "id", "format"),
    *("question", "answer"),
}
# Required fields and what else a command needs to get as far as checking them.
MISSING: list[tuple[str, dict[str, Any], str]] = [
    ("np.goal.set", {"description": "d"}, "title"),
    ("np.task.add", {}, "tasks"),
    ("np.task.update", {}, "updates"),
    ("np.task.edit", {"title": "t", "reason": "r"}, "id"),
    ("np.task.add", {"tasks": [{"description": "no title"}]}, "title"),
    ("np.task.update", {"updates": [{"id": "a"}]}, "status"),
    ("np.task.add", {"tasks": ["a string"]}, "tasks[0]"),
    ("np.task.add", {"tasks": [{"title": "t", "extra": 1}]}, "extra"),
]


class Live:
    """A project with an active session, a goal and one task, so each command gets as far
    as validating the argument that is wrong."""

    def __init__(self, shared: Shared, project: Path, task: str) -> None:
        self.shared, self.project, self.task = shared, project, task

    @property
    def dir(self) -> str:
        return str(self.project)

    async def plan(self) -> dict[str, Any]:
        plan = await self.shared.client.call("np.plan", {"dir": self.dir})
        events = await self.shared.client.call("np.events", {"dir": self.dir})
        return {"plan": plan, "events": events}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(shared: Shared) -> AsyncIterator[Live]:
    project = shared.base / "live"
    project.mkdir()
    c, d = shared.client, str(project)
    await c.call("np.session.start", {"dir": d})
    await c.call("np.goal.set", {"dir": d, "title": "g", "description": "d"})
    added = await c.call("np.task.add", {"dir": d, "tasks": [{"title": "t"}]})
    state = Live(shared, project, added["added"][0])
    before = await state.plan()
    yield state
    assert await state.plan() == before, "a rejected request changed the plan"


def cases() -> list[tuple[str, Any, str | None]]:
    """(command, argument, expected data.field or None)."""
    out: list[tuple[str, Any, str | None]] = []
    for command in COMMANDS:
        out += [
            (command, "a string", "arguments"),
            (command, 42, "arguments"),
            (command, None, "arguments"),
            (command, True, "arguments"),
            (command, [{"dir": "/"}], "arguments"),
            (command, {"bogus": 1}, "bogus"),
            (command, {"Dir": "/"}, "Dir"),
        ]
        for field in FIELDS[command]:
            out.append((command, {field: WRONG_TYPE[field]}, field))
            if field in TEXT_FIELDS and field != "id":
                out.append((command, {field: BIG}, None))  # field named by the check
    return out


def arg_for(live: Live, command: str, arg: Any) -> Any:
    """Fill in a real dir (and whatever else is needed) around the wrong part."""
    if not isinstance(arg, dict) or command in ("np.session.list", "np.session.overview"):
        return arg
    filled = {"dir": live.dir, **arg}
    if command == "np.goal.change" and set(arg) <= {"reason"}:
        filled["title"] = "new"
    if command in ("np.goal.change", "np.session.move") and "reason" not in arg:
        filled["reason"] = "r"
    if command == "np.task.edit":
        filled = {"id": live.task, "title": "t2", "reason": "r", **filled}
    if command == "np.task.wait":
        filled = {"id": live.task, "reason": "r", **filled}
    if command == "np.task.update" and "updates" not in arg:
        filled["updates"] = [{"id": live.task, "status": "cancelled"}]
    if command == "np.goal.set":
        filled = {"title": "t", "description": "d", **filled}
    if command == "np.task.ask" and "withdraw" not in arg:
        filled = {"id": live.task, "question": "q?", **filled}
    if command == "np.task.ask" and "withdraw" in arg:
        filled = {"id": live.task, **filled}
    if command == "np.task.answer":
        filled = {"id": live.task, "answer": "a", **filled}
    if command == "np.task.add" and "tasks" not in arg:
        filled["tasks"] = [{"title": "t"}]
    by_sid = (
        "np.session.archive",
        "np.plan",
        "np.task.list",
        "np.events",
        "np.export",
        "np.task.answer",
        "np.questions",
    )
    if command in by_sid and "sid" in arg:
        del filled["dir"]
    return filled


@pytest.mark.parametrize(
    ("command", "arg", "field"),
    cases(),
    ids=lambda v: (v[:20] + "…") if isinstance(v, str) and len(v) > 20 else None,
)
async def test_wrong_shape_is_invalid_argument(
    live: Live, command: str, arg: Any, field: str | None
) -> None:
    exc = await live.shared.client.error(command, arg_for(live, command, arg))
    data = check_exc(exc, 1007, "invalid_argument")
    if field is not None:
        assert data.get("field") == field, (command, arg, exc.message, data)
    assert "path" not in data and not any(os.sep + "site-packages" in str(v) for v in data.values())


@pytest.mark.parametrize(("command", "arg", "field"), MISSING)
async def test_missing_or_malformed_items(
    live: Live, command: str, arg: dict[str, Any], field: str
) -> None:
    exc = await live.shared.client.error(command, {"dir": live.dir, **arg})
    assert check_exc(exc, 1007, "invalid_argument")["field"] == field


async def test_a_two_megabyte_task_id_is_just_not_found(live: Live) -> None:
    arg = {"dir": live.dir, "id": BIG, "title": "t", "reason": "r"}
    exc = await live.shared.client.error("np.task.edit", arg)
    data = check_exc(exc, 1005, "task_not_found")
    assert len(data["ids"][0]) <= 1001  # capped on the wire


async def test_two_arguments(live: Live) -> None:
    for command in COMMANDS:
        exc = await live.shared.client.error(command, {"dir": live.dir}, {"dir": live.dir})
        assert check_exc(exc, 1007, "invalid_argument")["field"] == "arguments"
        assert "one JSON object" in exc.message
