"""A ``dir`` given to any command over ``np serve`` must name an existing directory by its
absolute path: a missing folder, a relative path or a file is ``invalid_argument`` (field
``dir``) naming the path, and is never taken for the project of a parent folder (whose plan
would be read, or written into)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from serve_support import FIELDS, Shared, check_exc

pytestmark = pytest.mark.asyncio(loop_scope="module")

# A minimal valid argument object per command, so that only "dir" can be wrong.
EXTRA: dict[str, dict[str, Any]] = {
    "np.goal.set": {"title": "g2", "description": "d2"},
    "np.goal.change": {"title": "g3", "reason": "asked"},
    "np.task.add": {"tasks": [{"title": "written into the parent"}]},
    "np.task.update": {"updates": [{"id": "zz9zz9", "status": "completed"}]},
    "np.task.edit": {"id": "zz9zz9", "title": "x", "reason": "r"},
    "np.session.move": {"reason": "r"},
    "np.task.ask": {"id": "zz9zz9", "question": "q?"},
    "np.task.answer": {"id": "zz9zz9", "answer": "a"},
    "np.task.wait": {"id": "zz9zz9", "after": [], "reason": "r"},
}


def _events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize("command", sorted(c for c, f in FIELDS.items() if "dir" in f))
async def test_a_bad_dir_is_refused_naming_it(shared: Shared, project: Path, command: str) -> None:
    await shared.client.call("np.session.start", {"dir": str(project)})
    await shared.client.call("np.goal.set", {"dir": str(project), "title": "g", "description": "d"})
    (project / "notes.txt").write_text("a file")
    before = _events(shared.db)
    for bad, words in (
        (project / "typo", "no such directory"),
        (project / "typo" / "deeper", "no such directory"),
        (project / "notes.txt", "a file, not a directory"),
        (Path("relative/x"), "relative path"),
    ):
        exc = await shared.client.error(command, {"dir": str(bad), **EXTRA.get(command, {})})
        data = check_exc(exc, 1007, "invalid_argument")
        assert data["field"] == "dir", (command, bad, exc.message)
        assert str(bad) in exc.message and words in exc.message, (command, exc.message)
    assert _events(shared.db) == before  # nothing written into the parent's plan
