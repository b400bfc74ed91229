"""What one write costs SQLite, counted in statements: a long-lived door's
``np.task.update`` (the command ``np serve`` and ``np mcp`` run most) may not grow.

Counted with SQLite's own trace of the statements the connection runs, so a statement
added anywhere on the path (the unit of work, the notice, the read-back of the plan)
fails here. A trigger's statements are reported as the statement that fired them; those
repeats are not counted."""

from __future__ import annotations

from pathlib import Path

from server.commands import Context, execute
from store import Store

# One unit of work: the lock (busy timeout off, BEGIN IMMEDIATE, busy timeout back), the
# session at the folder, the clock's floor, the touch, the lease renewal, the task, what
# the actor had seen, the next seq, the update, the event, the actor's seen and receipt,
# COMMIT. Then the plan read back in one snapshot: BEGIN, the head, the tasks, their
# prerequisites, COMMIT.
UNIT = 15
READ_BACK = 5


def statements(store: Store, run: object) -> list[str]:
    ran: list[str] = []

    def trace(sql: str) -> None:
        if not ran or ran[-1] != sql:  # a trigger's statements repeat the one that fired it
            ran.append(sql)

    conn = store.db.conn  # type: ignore[attr-defined]
    conn.set_trace_callback(trace)
    try:
        assert callable(run)
        run()
    finally:
        conn.set_trace_callback(None)
    return ran


def test_task_update_statements(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with Store(str(tmp_path / "np.db")) as store:
        actor = store.actor("client")

        def ctx() -> Context:
            return Context(store, str(project), "lsp:test", door="json", actor=actor)

        execute("np.session.start", ctx(), {})
        added = execute("np.task.add", ctx(), {"tasks": [{"title": "one"}, {"title": "two"}]})
        task = added["tasks"][0]["id"]
        for n, status in enumerate(["in_progress", "completed", "pending", "completed"]):
            ran = statements(
                store,
                lambda status=status: execute(
                    "np.task.update", ctx(), {"updates": [{"id": task, "status": status}]}
                ),
            )
            commit = ran.index("COMMIT")
            unit, read_back = ran[: commit + 1], ran[commit + 1 :]
            assert len(unit) <= UNIT, f"update {n}: {len(unit)} statements:\n" + "\n".join(unit)
            assert len(read_back) <= READ_BACK, "\n".join(read_back)
            assert unit[1] == "BEGIN IMMEDIATE" and read_back[0] == "BEGIN"
