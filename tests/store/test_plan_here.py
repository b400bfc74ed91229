"""``Store.plan_here`` (``np p``: the session, its plan and the notice in one snapshot) finds
what ``Store.resolve`` finds, on both engines: by path, through a folder that joined another
plan, and says why when nothing is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import NewTask, NoActiveSession, Store


def _start(store: Store, folder: Path, actor: str, titles: list[str]) -> str:
    with store.transaction("np s", actor) as unit:
        sid = unit.start_session(str(folder)).sid
        unit.add_tasks(sid, [NewTask(t) for t in titles])
        unit.look(sid)  # the agent has seen its own plan
    return sid


@pytest.mark.parametrize("preview", [False, True])
def test_plan_here_is_the_plan_and_notice_of_the_session_resolve_finds(
    np_db: str, tmp_path: Path, preview: bool
) -> None:
    root = tmp_path / "plan"
    (root / "mid" / "work").mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    with Store(np_db) as store:
        first = _start(store, root, "agent", ["a", "b"])
        with store.transaction("lsp", "Neovim") as unit:
            unit.add_tasks(first, [NewTask("from the editor")])
        work = str(root / "mid" / "work")
        plan, changes = store.plan_here(work, "agent", preview=preview)
        assert plan.session.sid == first == store.resolve(work).sid
        assert [t.title for t in plan.tasks] == ["a", "b", "from the editor"]
        assert [e.actor for e in changes.events] == ["Neovim"]  # the notice, not yet marked
        assert store.pending == [changes]
        store.mark_seen()
        assert not store.plan_here(work, "agent", preview=preview)[1]

        # A folder between here and the plan joins another plan: np p shows that one.
        second = _start(store, other, "agent", ["elsewhere"])
        with store.transaction("np join", "agent") as unit:
            unit.join_session(second, str(root / "mid"))
        plan, _ = store.plan_here(work, "agent", preview=preview)
        assert plan.session.sid == second == store.resolve(work).sid
        assert [t.title for t in plan.tasks] == ["elsewhere"]

        # No session at or above a folder: the same error resolve gives.
        with pytest.raises(NoActiveSession) as here:
            store.plan_here(str(tmp_path), None, preview=preview)
        with pytest.raises(NoActiveSession) as resolved:
            store.resolve(str(tmp_path))
        assert here.value.data == resolved.value.data
