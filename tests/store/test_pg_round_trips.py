"""Round trips per verb on PostgreSQL, counted at the protocol (never timed).

Each verb runs as a user runs it (the real ``np`` in a subprocess) against a fresh
database reached through ``bench.delay_proxy`` on loopback, which counts the client's
*flights*: chunks sent after the server last spoke, i.e. round trips the client waited
for. Connecting over the Unix socket with trust authentication costs 1 (the startup
packet); TLS and SCRAM add their own (see README, "Sharing plans across machines").
A change that adds a round trip to a verb fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from bench.delay_proxy import DelayProxy
from tests.support import np_command

# The round trips each verb takes, in a folder six levels deep: 1 to connect (the startup
# packet, on a Unix socket with trust); the schema check rides with the first statements.
# A write is then 2: its reads (everything the command needs about its session, no lock,
# no COMMIT to wait for), then its writes, the NOTIFY, the read-back of the plan and the
# COMMIT together. np s looks every parent folder up in one statement.
BUDGET = {
    ("s",): 3,
    ("g", "s", "-t", "Ship it", "-d", "why"): 3,
    ("t", "a", "-t", "one", "-t", "two"): 3,
    # the session, the plan and the actor's notice in one snapshot
    ("p",): 2,
    ("t", "u", "-i", "{id}", "-s", "completed"): 3,
    # the sessions with their goals' titles: one statement
    ("ls",): 2,
}


@pytest.fixture
def proxied(pg_server: str, tmp_path: Path) -> Iterator[tuple[str, DelayProxy]]:
    url = create_database(pg_server)
    socket_dir = url.split("host=", 1)[1].split("&", 1)[0]
    folder = tmp_path / "proxy"
    folder.mkdir()
    # A few ms of delay make the count exact: pipelined writes reach the proxy together.
    with DelayProxy(str(folder / ".s.PGSQL.5432"), f"{socket_dir}/.s.PGSQL.5432", 0.004) as proxy:
        yield url.replace(f"host={socket_dir}", f"host={folder}"), proxy
    drop_database(pg_server, url)


def _np(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NP_DB": url, "NP_ACTOR": ""}
    env.pop("NP_DEBUG", None)
    return subprocess.run(
        [*np_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_round_trips_per_verb(proxied: tuple[str, DelayProxy], tmp_path: Path) -> None:
    url, proxy = proxied
    work = tmp_path / "a" / "b" / "c" / "d" / "project"
    work.mkdir(parents=True)
    counted: dict[tuple[str, ...], int] = {}
    task_id = ""
    for args in BUDGET:
        argv = [a.format(id=task_id) for a in args]
        proxy.reset()
        proc = _np(url, work, "--json", *argv)
        assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
        counted[args] = proxy.flights
        if args[:2] == ("t", "a"):
            task_id = json.loads(proc.stdout)["tasks"][0]["id"]
    assert counted == BUDGET  # fewer is welcome: lower the budget


# A write through a long-lived door (np serve's and np mcp's write thread: the command table
# on a connection kept open): the session as the door's last write left it is kept, so the
# write sends its condition, its writes, the read-back and the COMMIT at once (its first
# write on the connection reads first: 2).
DOOR_BUDGET = {"np.task.add": 1, "np.task.update": 1, "np.goal.set": 1}


def test_round_trips_of_a_write_on_an_open_connection(
    proxied: tuple[str, DelayProxy], tmp_path: Path
) -> None:
    from server.commands.table import Context, execute
    from store import Store

    url, proxy = proxied
    with Store(url) as store:
        ctx = Context(store, str(tmp_path), "door", actor="door")
        execute("np.session.start", ctx, {})
        added = execute("np.task.add", ctx, {"tasks": [{"title": "warm"}]})["added"][0]
        arguments = {
            "np.task.add": {"tasks": [{"title": "one"}, {"title": "two"}]},
            "np.task.update": {"updates": [{"id": added, "status": "completed"}]},
            "np.goal.set": {"title": "Ship it", "description": "why"},
        }
        counted = {}
        for name, arg in arguments.items():
            proxy.reset()
            result = execute(name, ctx, arg)
            counted[name] = proxy.flights
            assert "session" in result or "tasks" in result, result
    assert counted == DOOR_BUDGET  # fewer is welcome: lower the budget


def test_round_trips_of_np_m_refresh_after_another_machine_commits(
    proxied: tuple[str, DelayProxy], tmp_path: Path
) -> None:
    """np m wakes on the feed's socket (LISTEN/NOTIFY); the notification says what changed
    (no read), and the monitor reads the plan and the new events in one snapshot (1)."""
    import select

    from server.commands.table import Context, execute
    from server.monitor.watcher import Watcher
    from store import Store
    from store.feed import open_feed

    url, proxy = proxied
    with Store(url) as other, Store(url) as store:  # the other's commit ends before counting
        ctx = Context(other, str(tmp_path), "other machine", actor="other")
        execute("np.session.start", ctx, {})
        feed = open_feed(url)
        try:
            watcher = Watcher(store, str(tmp_path))
            watcher.load()
            for n in range(3):
                execute("np.task.add", ctx, {"tasks": [{"title": f"task {n}"}]})
                proxy.reset()
                touched: set[str] = set()
                while not touched:  # woken by the notification, as np m's loop is
                    select.select([feed.fileno()], [], [], 10)
                    touched = {change.sid for change in feed.poll()}
                assert watcher.apply(touched)
                assert proxy.flights == 1, n
                assert watcher.plan is not None and len(watcher.plan.tasks) == n + 1
                assert watcher.events[-1].type == "task_added"
        finally:
            feed.close()


def _log(store: object, sid: str) -> list[tuple[int, str, str]]:
    from store import Store

    assert isinstance(store, Store)
    return [(e.seq, str(e.type), e.actor or "") for e in store.events(sid)]


def test_a_door_write_after_another_machine_wrote_is_run_again_never_wrong(
    proxied: tuple[str, DelayProxy], tmp_path: Path
) -> None:
    """The door keeps what its last write left; another machine writes in between (the
    door has not heard of it: np mcp follows no feed). Each kind of later write still
    gives the true answer, and the log is exact: nothing lost, nothing doubled."""
    from server.commands.table import Context, execute
    from store import Store

    url, proxy = proxied
    with Store(url) as door_store, Store(url) as other_store:
        door = Context(door_store, str(tmp_path), "door", actor="door")
        other = Context(other_store, str(tmp_path), "other machine", actor="other")
        sid = execute("np.session.start", door, {})["session"]["sid"]
        execute("np.task.add", door, {"tasks": [{"title": "warm"}]})

        # A task the door has never seen: found (not "no such task"), then updated.
        theirs = execute("np.task.add", other, {"tasks": [{"title": "theirs"}]})["added"][0]
        done = execute("np.task.update", door, {"updates": [{"id": theirs, "status": "completed"}]})
        assert {t["id"]: t["status"] for t in done["tasks"]}[theirs] == "completed"

        # A write the other machine overtook: refused whole with its condition, run again.
        execute("np.task.add", other, {"tasks": [{"title": "theirs too"}]})
        execute("np.task.add", door, {"tasks": [{"title": "mine"}]})

        # A goal the other machine set meanwhile: the door is told, never sets a second.
        execute("np.goal.set", other, {"title": "Theirs", "description": "first"})
        with pytest.raises(Exception, match="already set"):
            execute("np.goal.set", door, {"title": "Mine", "description": "second"})

        # A task that does not exist is still "not found", once the kept rows are confirmed.
        execute("np.task.add", door, {"tasks": [{"title": "kept again"}]})  # its notice
        execute("np.task.add", door, {"tasks": [{"title": "kept"}]})  # no notice: kept
        proxy.reset()
        with pytest.raises(Exception, match="No task with id"):
            execute("np.task.update", door, {"updates": [{"id": "zzzz", "status": "completed"}]})
        assert proxy.flights == 1  # its condition, asked on its own
        execute("np.task.add", door, {"tasks": [{"title": "last"}]})

        log = _log(door_store, sid)
        assert [seq for seq, _, _ in log] == list(range(1, len(log) + 1))  # gapless
        assert log[1:] == [
            (2, "task_added", "door"),
            (3, "task_added", "other"),
            (4, "task_status_changed", "door"),
            (5, "task_added", "other"),
            (6, "task_added", "door"),
            (7, "goal_set", "other"),
            (8, "task_added", "door"),
            (9, "task_added", "door"),
            (10, "task_added", "door"),
        ]
        titles = [t.title for t in door_store.plan(sid).tasks]
        assert titles == ["warm", "theirs", "theirs too", "mine", "kept again", "kept", "last"]


def test_a_door_write_goes_to_the_plan_its_folder_finds_now(
    proxied: tuple[str, DelayProxy], tmp_path: Path
) -> None:
    """A folder between the door's and its plan's joined another plan after the door's last
    write: the seq of the door's plan did not move, yet its next write goes to the plan the
    folder finds now (the condition checks the nearest session too)."""
    from server.commands.table import Context, execute
    from store import Store

    url, _ = proxied
    root = tmp_path / "plan"
    (root / "mid" / "work").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    work = str(root / "mid" / "work")
    with Store(url) as door_store, Store(url) as other_store:
        door = Context(door_store, work, "door", actor="door")
        first = execute("np.session.start", door, {"dir": str(root)})["session"]["sid"]
        execute("np.task.add", door, {"tasks": [{"title": "warm"}]})
        execute("np.task.add", door, {"tasks": [{"title": "kept"}]})
        other = Context(other_store, str(tmp_path / "elsewhere"), "other", actor="other")
        second = execute("np.session.start", other, {})["session"]["sid"]
        execute("np.session.join", other, {"sid": second, "dir": str(root / "mid")})
        execute("np.task.add", door, {"tasks": [{"title": "where?"}]})
        assert [t.title for t in door_store.plan(first).tasks] == ["warm", "kept"]
        assert [t.title for t in door_store.plan(second).tasks] == ["where?"]


def test_a_keyed_door_write_is_one_round_trip_and_a_used_key_still_replays(
    proxied: tuple[str, DelayProxy], tmp_path: Path
) -> None:
    """A write with an idempotency key does not read the key first: its insert, in the
    same flight, refuses a key used before, and the command runs again reading it. The
    same request again answers as the first time (even where running it again would now
    fail), another request under that key is refused, and nothing is written twice."""
    from server.commands.table import Context, execute
    from store import InvalidArgument, Store

    url, proxy = proxied
    with Store(url) as store:
        ctx = Context(store, str(tmp_path), "door", actor="door")
        sid = execute("np.session.start", ctx, {})["session"]["sid"]
        task = execute("np.task.add", ctx, {"tasks": [{"title": "warm"}]})["added"][0]
        proxy.reset()
        done = {"updates": [{"id": task, "status": "completed"}], "key": "k1"}
        execute("np.task.update", ctx, done)
        assert proxy.flights == 1
        again = execute("np.task.update", ctx, done)
        assert again["replayed"] is True
        added = {"tasks": [{"title": "once"}], "key": "k2"}
        first = execute("np.task.add", ctx, added)
        assert execute("np.task.add", ctx, added)["added"] == first["added"]
        with pytest.raises(InvalidArgument, match="idempotency key"):
            execute("np.task.add", ctx, {"tasks": [{"title": "other"}], "key": "k2"})
        # the same request under a used key, where running it again would now be refused
        cancel = {"id": task, "status": "cancelled", "reason": "not needed"}
        execute("np.task.update", ctx, {"updates": [cancel]})
        assert execute("np.task.update", ctx, done)["replayed"] is True
        # a request that, run again, would be refused (the goal is set): answered as first
        goal = {"title": "Ship it", "description": "why", "key": "k3"}
        execute("np.goal.set", ctx, goal)
        assert execute("np.goal.set", ctx, goal)["replayed"] is True
        titles = [t.title for t in store.plan(sid).tasks]
        assert titles == ["warm", "once"]
        log = [e.seq for e in store.events(sid)]
        assert log == list(range(1, len(log) + 1))
