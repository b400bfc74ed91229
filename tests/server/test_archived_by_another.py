"""When another actor archives the session, the agent's next np output says so (B11, issue 12).

Before, an agent whose session the operator archived was told only "no active session, start
one", and its next ``np s`` silently gave it a fresh, empty plan. Now every door's
no-active-session answer says who archived this folder's session, when (and why, when a
reason was recorded): the CLI in flags, JSON-RPC in ``np.*`` commands with the facts in
``data.archived``, MCP in tool names (tests/mcp/test_mcp_archived_by_another.py). Real
subprocesses: the CLI and ``np serve``.
"""

from __future__ import annotations

from pathlib import Path

from serve_support import RawServer, server_env

from tests.conftest import NpRunner


def _archive_as_ana(run_np: NpRunner, project: Path) -> str:
    r = run_np("--actor", "ana", "--json", "a", cwd=project)
    assert r.code == 0, r
    sid: str = r.json()["session"]["sid"]
    return sid


def test_cli_agent_is_told_who_archived_its_session(run_np: NpRunner, workdir: Path) -> None:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "g", "-d", "d").code == 0
    sid = _archive_as_ana(run_np, workdir)
    (workdir / "sub").mkdir()
    for args in (["p"], ["r"], ["t", "a", "-t", "more"], ["-C", "sub", "p"]):
        r = run_np(*args)
        assert r.code == 1, r
        assert f"ana archived this folder's session {sid} at " in r.err, r
        assert "only if the operator asked for new work" in r.err, r
        assert "`np s`" in r.err
    data = run_np("--json", "p").json()["error"]["data"]
    assert data["archived"]["by"] == "ana" and data["archived"]["sid"] == sid
    assert data["archived"]["at"] and data["archived"]["reason"] is None
    # The operator itself, and an actor that never worked on that plan: nothing to tell.
    for env in ({"NP_ACTOR": "ana"}, {"NP_ACTOR": "bob"}):
        r = run_np("p", env=env)
        assert r.code == 1 and "archived" not in r.err, r
        assert "Start one with `np s`" in r.err


def test_own_archive_is_not_news(run_np: NpRunner, workdir: Path) -> None:
    assert run_np("s").code == 0
    assert run_np("a").code == 0
    r = run_np("p")
    assert r.code == 1 and "archived" not in r.err, r


def test_json_rpc_client_is_told_in_its_terms(
    run_np: NpRunner, db_path: Path, workdir: Path
) -> None:
    with RawServer(server_env(db_path), workdir) as server:
        server.initialize(workdir)
        started = server.command("np.session.start", {"dir": str(workdir)})
        assert "result" in started, started
        sid = _archive_as_ana(run_np, workdir)
        for name in ("np.plan", "np.session.resume"):
            error = server.command(name, {"dir": str(workdir)})["error"]
            assert f"ana archived this folder's session {sid}" in error["message"], error
            assert "np.session.start only if the operator asked" in error["message"]
            assert "np s" not in error["message"] and "-C" not in error["message"]
            archived = error["data"]["archived"]
            assert archived["by"] == "ana" and archived["sid"] == sid, error
        added = server.command("np.task.add", {"dir": str(workdir), "tasks": [{"title": "x"}]})
        assert added["error"]["data"]["archived"]["by"] == "ana", added
