"""``np/didChange {sid, dir, seq, type}``: after the server's own commits, after a CLI
commit in another process, to every server on the database, and never for failures.

Two servers share one database for the whole module; each test acts in its own project
directory and looks only at the changes for that directory."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pg_support import ENGINES, create_database, drop_database
from serve_support import DID_CHANGE, NpClient, as_dict, run_cli, server_env, start_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOTICE = 2.0  # SPEC: about 250 ms; generous for a loaded CI machine


class Pair:
    def __init__(self, one: NpClient, two: NpClient, db: Path | str) -> None:
        self.one, self.two, self.db = one, two, db


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=ENGINES)
async def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    """Two servers on one database: a SQLite file, or a PostgreSQL database (where their
    changes travel by LISTEN/NOTIFY)."""
    db: Path | str = tmp_path_factory.mktemp("notify") / "np.db"
    server = None
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        db = create_database(server)
    one, two = await asyncio.gather(start_client(db), start_client(db))
    yield Pair(one, two, db)
    await asyncio.gather(one.close(), two.close())
    assert one.returncode == two.returncode == 0
    if server is not None:
        drop_database(server, str(db))


def here(project: Path, pred: Callable[[dict[str, Any]], bool] = lambda c: True) -> Any:
    canonical = os.path.realpath(project)
    return lambda c: c["dir"] == canonical and pred(c)


def seen_here(client: NpClient, project: Path) -> list[dict[str, Any]]:
    return [c for c in client.changes.seen if here(project)(c)]


async def next_change_here(client: NpClient, project: Path) -> dict[str, Any]:
    """Await the next np/didChange for ``project`` via pytest-lsp's one-shot waiter, which
    must be registered before the trigger: call this with ``asyncio.ensure_future`` first."""
    while True:
        change = as_dict(
            await asyncio.wait_for(
                client.lsp.protocol.wait_for_notification_async(DID_CHANGE), NOTICE
            )
        )
        if here(project)(change):
            return change


async def test_own_commits_notify_with_sid_dir_seq_type(pair: Pair, project: Path) -> None:
    client, d = pair.one, {"dir": str(project)}
    # register the waiter BEFORE triggering: notifications are not buffered
    waiter = asyncio.ensure_future(next_change_here(client, project))
    started = await client.call("np.session.start", d)
    assert await waiter == {
        "sid": started["session"]["sid"],
        "dir": os.path.realpath(project),
        "seq": 1,
        "type": "session_started",
    }

    waiter = asyncio.ensure_future(next_change_here(client, project))
    await client.call("np.goal.set", {**d, "title": "g", "description": "d"})
    assert (await waiter)["type"] == "goal_set"

    # a batch of three tasks is one commit: one notification, carrying the last seq
    waiter = asyncio.ensure_future(next_change_here(client, project))
    await client.call(
        "np.task.add", {**d, "tasks": [{"title": "a"}, {"title": "b"}, {"title": "c"}]}
    )
    change = await waiter
    assert (change["type"], change["seq"]) == ("task_added", 5)

    await asyncio.sleep(0.3)
    assert [c["seq"] for c in seen_here(client, project)] == [1, 2, 5]
    # reads and failed writes commit nothing: no notification
    await client.call("np.plan", d)
    await client.call("np.events", d)
    await client.error("np.goal.set", {**d, "title": "again", "description": "d"})
    await client.error("np.task.update", {**d, "updates": [{"id": "nope", "status": "completed"}]})
    await asyncio.sleep(0.4)
    assert [c["seq"] for c in seen_here(client, project)] == [1, 2, 5]


async def test_a_cli_commit_in_another_process_is_noticed(pair: Pair, project: Path) -> None:
    client = pair.one
    await client.call("np.session.start", {"dir": str(project)})
    await client.changes.wait_for(here(project), NOTICE)
    latencies = []
    for n in range(3):
        waiter = asyncio.ensure_future(next_change_here(client, project))
        await asyncio.to_thread(run_cli, pair.db, "t", "a", "-t", f"from the CLI {n}", cwd=project)
        committed = time.monotonic()  # the CLI has exited: its commit is done
        change = await waiter
        latencies.append(time.monotonic() - committed)
        assert (change["type"], change["seq"]) == ("task_added", n + 2)
    assert min(latencies) < 0.5, latencies
    events = await client.call("np.events", {"dir": str(project)})
    assert events["events"][-1]["cmd"].startswith("np t a")


async def test_two_servers_on_one_database_are_both_notified(pair: Pair, project: Path) -> None:
    one, two, d = pair.one, pair.two, {"dir": str(project)}

    def is_type(kind: str) -> Any:
        return here(project, lambda c: c["type"] == kind)

    started = await one.call("np.session.start", d)
    for client in (one, two):
        change = await client.changes.wait_for(is_type("session_started"), NOTICE)
        assert change["sid"] == started["session"]["sid"]
    await two.call("np.goal.set", {**d, "title": "g", "description": "d"})
    for client in (one, two):
        await client.changes.wait_for(is_type("goal_set"), NOTICE)
    await asyncio.to_thread(run_cli, pair.db, "t", "a", "-t", "x", cwd=project)
    for client in (one, two):
        await client.changes.wait_for(is_type("task_added"), NOTICE)
    await asyncio.sleep(0.3)
    # each commit was reported exactly once to each client
    for client in (one, two):
        assert [c["seq"] for c in seen_here(client, project)] == [1, 2, 3]


async def test_concurrent_writes_all_answered_and_notified(pair: Pair, project: Path) -> None:
    n, client = 20, pair.one
    await client.call("np.session.start", {"dir": str(project)})
    results = await asyncio.gather(
        *(
            client.call("np.task.add", {"dir": str(project), "tasks": [{"title": f"t{i}"}]})
            for i in range(n)
        )
    )
    assert len({r["added"][0] for r in results}) == n
    await client.changes.wait_for(here(project, lambda c: c["seq"] == n + 1), NOTICE)
    seqs = [c["seq"] for c in seen_here(client, project)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_two_machines_in_different_scopes_notify_each_other(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two ``np serve`` on two "machines" (scopes) sharing one PostgreSQL database, each
    with a project at the same path (as CI runners have): two sessions, and each server
    hears every commit of the other."""
    server = request.getfixturevalue("pg_server")
    db = create_database(server)
    repo = tmp_path / "builds" / "repo"
    repo.mkdir(parents=True)
    laptop, runner = await asyncio.gather(
        start_client(db, env=server_env(db, NP_SCOPE="laptop"), cwd=repo),
        start_client(db, env=server_env(db, NP_SCOPE="ci-runner"), cwd=repo),
    )
    try:
        d = {"dir": str(repo)}
        mine = (await laptop.call("np.session.start", d))["session"]
        theirs = (await runner.call("np.session.start", d))["session"]
        assert mine["sid"] != theirs["sid"]
        assert (mine["scope"], theirs["scope"]) == ("laptop", "ci-runner")
        for client in (laptop, runner):
            for sid in (mine["sid"], theirs["sid"]):
                await client.changes.wait_for(
                    lambda c, sid=sid: c["sid"] == sid and c["type"] == "session_started", NOTICE
                )
        await runner.call("np.task.add", {**d, "tasks": [{"title": "from CI"}]})
        await laptop.changes.wait_for(
            lambda c: c["sid"] == theirs["sid"] and c["type"] == "task_added", NOTICE
        )
        await laptop.call("np.goal.set", {**d, "title": "g", "description": "d"})
        await runner.changes.wait_for(
            lambda c: c["sid"] == mine["sid"] and c["type"] == "goal_set", NOTICE
        )
        listed = await laptop.call("np.session.list", {})
        assert {(s["sid"], s["scope"]) for s in listed["sessions"]} == {
            (mine["sid"], "laptop"),
            (theirs["sid"], "ci-runner"),
        }
    finally:
        await asyncio.gather(laptop.close(), runner.close())
        drop_database(server, db)
