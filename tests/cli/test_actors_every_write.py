"""Every write records its actor, and the actor's own write is never news to it (issue 12
§1–2; fresh finding F1: ``np mv`` wrote ``session_moved`` with no actor, shown "(unknown)",
and the mover then saw its own move as another's change).

The kind, not the example: every command of the table that writes is driven through the
real CLI with an actor, and each must (a) record that actor on every event it appends and
(b) leave that actor's "seen" mark at the newest event, in the same transaction. A new
write command that forgets either fails here: the walk checks that it covers them all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.commands.table import COMMANDS
from tests.cli.test_errors import assert_clean_error
from tests.conftest import NpRunner


def _events(db: Path) -> list[tuple[str, int, str, str | None]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT sid, seq, type, actor FROM events ORDER BY id"))


def _seen(db: Path, sid: str, actor: str) -> int | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT seq FROM seen WHERE sid = ? AND actor = ?", (sid, actor))
        found = row.fetchone()
    return None if found is None else int(found[0])


def test_np_mv_records_the_actor_and_is_no_news_to_the_mover(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    """F1 as the tester ran it: rename, np mv, np p, np log."""
    old = tmp_path / "proj"
    old.mkdir()
    assert run_np("s", cwd=old).code == 0
    new = tmp_path / "proj2"
    old.rename(new)
    r = run_np("mv", "-r", "renamed", cwd=new)
    assert r.code == 0, r
    r = run_np("p", cwd=new)
    assert r.code == 0, r
    assert "Changed by" not in r.out and "(unknown)" not in r.out, r.out
    event = run_np("--json", "log", "-n", "1", cwd=new).json()["events"][0]
    assert event["type"] == "session_moved" and event["actor"] == "agent", event
    assert "(unknown)" not in run_np("log", cwd=new).out
    # The operator's move (--actor ana) is ana's, and news to the agent, once.
    newer = tmp_path / "proj3"
    new.rename(newer)
    assert run_np("--actor", "ana", "mv", "-r", "moved again", cwd=newer).code == 0
    assert _events(db_path)[-1][3] == "ana"
    r = run_np("p", cwd=newer)
    assert "ana" in r.out and "session moved" in r.out, r.out
    assert "Changed by" not in run_np("p", cwd=newer).out
    assert "Changed by" not in run_np("--actor", "ana", "p", cwd=newer).out


# Each write command of the table, as the CLI spells it (run in order, in one project).
WRITES = {
    "np.session.start": ["s"],
    "np.goal.set": ["g", "s", "-t", "goal", "-d", "the goal, described"],
    "np.goal.change": ["g", "u", "-t", "goal 2", "-r", "the operator asked"],
    "np.task.add": ["t", "a", "-t", "one", "-t", "two"],
    "np.task.update": ["t", "u", "-i", "{id}", "-s", "failed", "-r", "it broke"],
    "np.task.edit": ["t", "e", "-i", "{id}", "-t", "one, renamed", "-r", "clearer"],
    "np.task.ask": ["t", "q", "-i", "{id}", "-q", "which one?"],
    "np.task.answer": ["q", "a", "-i", "{id}", "-a", "that one"],
    "np.task.wait": ["t", "w", "-i", "{id}", "--after", "{id2}", "-r", "two comes first"],
    "np.task.next": ["next"],
    "np.session.move": ["mv", "-r", "the folder was renamed"],
    "np.session.join": ["join", "--session", "{sid}"],
    "np.session.archive": ["a"],
}


def test_every_write_records_its_actor_and_marks_it_seen(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    writing = {name for name, cmd in COMMANDS.items() if cmd.writes}
    assert writing == set(WRITES), f"cover the new write command(s): {writing ^ set(WRITES)}"
    project = tmp_path / "proj"
    project.mkdir()
    task_id = task_id2 = ""
    for n, (name, argv) in enumerate(WRITES.items()):
        if n:  # another actor writes first: ana's write must mark that seen as well
            assert run_np("--actor", "bob", "t", "a", "-t", f"bob {n}", cwd=project).code == 0
        if name == "np.session.move":
            moved = tmp_path / f"proj{n}"
            project.rename(moved)
            project = moved
        count = len(_events(db_path))
        current = _events(db_path)[-1][0] if count else ""
        given = [
            a.replace("{id2}", task_id2).replace("{id}", task_id).replace("{sid}", current)
            for a in argv
        ]
        where = project
        if name == "np.session.join":  # from another folder, which then works on this plan
            where = tmp_path / "elsewhere"
            where.mkdir()
        r = run_np("--actor", "ana", *given, cwd=where)
        assert r.code == 0, (name, r)
        new = _events(db_path)[count:]
        assert new, f"{name} appended no event"
        assert {e[3] for e in new} == {"ana"}, (name, new)
        sid, top = new[-1][0], new[-1][1]
        assert _seen(db_path, sid, "ana") == top, f"{name}: ana's own write is not marked seen"
        if name == "np.task.add":
            listed = run_np("--json", "t", cwd=project).json()["tasks"]
            task_id, task_id2 = listed[0]["id"], listed[1]["id"]


def test_a_second_mv_says_it_is_already_there_and_nothing_to_move_is_a_plan_error(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    old = tmp_path / "proj"
    (old / "sub").mkdir(parents=True)
    sid = run_np("s", "--json", cwd=old).json()["session"]["sid"]
    new = tmp_path / "renamed"
    old.rename(new)
    assert run_np("mv", "-r", "renamed", cwd=new).code == 0
    before = len(_events(db_path))
    for argv in (["mv", "-r", "again"], ["mv", "--session", sid, "-r", "again"]):
        r = run_np(*argv, cwd=new)
        assert r.code == 0, r
        assert "already belongs to" in r.out and "nothing changed" in r.out, r.out
        assert run_np("--json", *argv, cwd=new).json()["already_here"] is True
    assert len(_events(db_path)) == before  # no event for a move to where it is
    # Below the session's folder nothing was moved: the parent's session stays where it is.
    r = run_np("mv", "-r", "why", cwd=new / "sub")
    assert_clean_error(r, 1)
    assert "No session's folder was moved here" in r.err and "np ls --all" in r.err, r.err
    err = run_np("--json", "mv", "-r", "why", cwd=new / "sub").json()["error"]
    assert err["kind"] == "no_active_session" and err["code"] == 1001, err
    assert run_np("--json", "p", cwd=new).json()["session"]["dir"] == str(new)
    assert len(_events(db_path)) == before
