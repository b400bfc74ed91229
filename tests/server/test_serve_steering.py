"""Issue 23 over JSON-RPC (a real ``np serve``, both engines): an agent asks with
``np.task.ask``; an editor lists the question (``np.questions``, and ``ask`` on the task in
every plan) and answers with ``np.task.answer``; the agent's next result carries it in
``answers`` and first in ``notice``, once; ``np.events`` carries receipts — the editor's own
change is unseen by the agent until the agent reads, then seen, with a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_support import NpClient, as_dict, start_client

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def result(client: NpClient, command: str, argument: dict[str, Any]) -> dict[str, Any]:
    return as_dict(await client.call(command, argument))  # type: ignore[no-any-return]


def _receipts(events: list[dict[str, Any]], seq: int) -> list[tuple[str, bool]]:
    found = next(e for e in events if e["seq"] == seq)["receipts"]
    return [(r["actor"], r["seen"]) for r in found]


async def test_ask_answer_and_receipts_over_json_rpc(np_db: str, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    where = {"dir": str(project)}
    agent = await start_client(np_db, root=project, client_name="claude-code")  # type: ignore[arg-type]
    editor = await start_client(np_db, root=project, client_name="Neovim")  # type: ignore[arg-type]
    try:
        await result(agent, "np.session.start", where)
        added = await result(agent, "np.task.add", {**where, "tasks": [{"title": "one"}]})
        (first,) = added["added"]
        await result(editor, "np.plan", where)  # the editor works on this plan too
        # The actors' names (on PostgreSQL they carry the host name: claude-code@host).
        me = (await result(agent, "np.events", where))["events"][0]["actor"]
        assert me.split("@")[0] == "claude-code"

        asked = await result(
            agent, "np.task.ask", {**where, "id": first, "question": "Which?", "choices": ["x"]}
        )
        assert asked["asked"] is True and asked["task"]["ask"]["choices"] == ["x"]
        listed = await result(editor, "np.questions", where)
        assert [(q["task_id"], q["by"]) for q in listed["questions"]] == [(first, me)]
        plan = await result(editor, "np.plan", where)
        assert plan["tasks"][0]["ask"]["question"] == "Which?"

        answered = await result(editor, "np.task.answer", {**where, "id": first, "answer": "x"})
        assert answered["answered"]["asked_by"] == me
        answer_seq = answered["answered"]["seq"]
        editor_name = answered["answered"]["by"]
        assert editor_name.split("@")[0] == "Neovim"
        events = (await result(editor, "np.events", where))["events"]
        assert _receipts(events, answer_seq) == [(me, False)]

        nxt = await result(agent, "np.plan", where)
        assert [(a["task_id"], a["answer"], a["by"], a["choice"]) for a in nxt["answers"]] == [
            (first, "x", editor_name, True)
        ]
        assert nxt["notice"].startswith(f"Answer from {editor_name} on {first}: x")
        assert "answers" not in await result(agent, "np.plan", where)
        events = (await result(editor, "np.events", where))["events"]
        assert _receipts(events, answer_seq) == [(me, True)]
        seen_at = next(e for e in events if e["seq"] == answer_seq)["receipts"][0]["seen_at"]
        assert isinstance(seen_at, str) and seen_at.endswith("Z")

        # An answer to a task without an open question: a clear error, nothing written.
        total = (await result(editor, "np.events", where))["total"]
        with pytest.raises(Exception) as refused:
            await agent.call("np.task.answer", {**where, "id": first, "answer": "again"})
        assert "no open question" in str(refused.value)
        assert (await result(editor, "np.events", where))["total"] == total
    finally:
        await agent.close()
        await editor.close()
