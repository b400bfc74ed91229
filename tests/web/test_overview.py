"""``np.session.overview``, the operator's list: a page of sessions with their goal, counts
by status, events and the actors who wrote or read, on both engines, in one snapshot."""

from __future__ import annotations

from pathlib import Path

from server.commands import Context, execute
from store import Store


def _run(store: Store, name: str, args: dict[str, object], actor: str | None = None) -> dict:
    return execute(name, Context(store, None, f"test:{name}", actor=actor), args)


def test_overview_pages_sessions_with_goal_counts_and_actors(np_db: str, tmp_path: Path) -> None:
    with Store(np_db) as store:
        sids = []
        for n in range(3):
            d = tmp_path / f"p{n}"
            d.mkdir()
            sid = _run(store, "np.session.start", {"dir": str(d)}, "agent")["session"]["sid"]
            sids.append(sid)
            _run(
                store, "np.goal.set", {"dir": str(d), "title": f"G{n}", "description": "d"}, "agent"
            )
        _run(
            store, "np.task.add", {"sid": sids[0], "tasks": [{"title": "a"}, {"title": "b"}]}, "ana"
        )
        plan = _run(store, "np.plan", {"sid": sids[0]})
        first = plan["tasks"][0]["id"]
        _run(
            store,
            "np.task.update",
            {"sid": sids[0], "updates": [{"id": first, "status": "cancelled"}], "reason": "no"},
            "ana",
        )
        _run(store, "np.plan", {"sid": sids[0]}, "agent")  # the agent reads: seen marked

        page = _run(store, "np.session.overview", {"limit": 2})
        assert page["total"] == 3 and page["offset"] == 0
        assert [s["sid"] for s in page["sessions"]] == [sids[0], sids[2]]  # newest first
        top = page["sessions"][0]
        assert top["goal_title"] == "G0" and top["tasks"] == 2 and top["events"] == 5
        assert top["counts"] == {
            "pending": 1,
            "in_progress": 0,
            "completed": 0,
            "failed": 0,
            "cancelled": 1,
        }
        actors = {a["actor"]: a for a in top["actors"]}
        assert set(actors) == {"agent", "ana"}
        assert actors["agent"]["seen_seq"] == 5  # read everything
        assert actors["ana"]["last_write_at"] is not None
        rest = _run(store, "np.session.overview", {"limit": 2, "offset": 2})
        assert [s["sid"] for s in rest["sessions"]] == [sids[1]]
