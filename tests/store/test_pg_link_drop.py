"""A writer whose network stops in the middle of its unit of work does not stall the other
machines' writes to the same plan at all: a unit holds no lock across the network.

Writer A reaches the server through ``bench.delay_proxy`` on loopback. Right after its
unit read what it needs (its first round trip, which takes no lock), the proxy stops
forwarding in both directions: a link that went silent before A's writes were sent.
Writer B (another "machine", straight to the server) writes to the same plan with
``NP_BUSY_TIMEOUT=0`` (do not wait for a lock at all) and succeeds: nothing is held for A.
(Before, A's unit held the session's row lock from its first round trip to its COMMIT, and
B waited for the server to cut A off.) Then A's link comes back: A's writes meet B's event
and are refused whole (``WriteConflict``: nothing was written, a door runs the command
again); the log holds B's change once and none of A's; every seq is there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from bench.delay_proxy import DelayProxy
from store import NewTask, Store
from store.errors import WriteConflict


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


def test_a_writer_whose_link_drops_mid_unit_stalls_nobody_past_the_bound(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NP_BUSY_TIMEOUT", "0")  # B must not need to wait for any lock
    work = tmp_path / "project"
    work.mkdir()
    with Store(pg_url) as setup, setup.transaction("np s") as unit:
        sid = unit.start_session(str(work)).sid
    socket_dir = pg_url.split("host=", 1)[1].split("&", 1)[0]
    folder = tmp_path / "proxy"
    folder.mkdir()
    with DelayProxy(str(folder / ".s.PGSQL.5432"), f"{socket_dir}/.s.PGSQL.5432", 0.002) as link:
        a_url = pg_url.replace(f"host={socket_dir}", f"host={folder}")
        locked = threading.Event()
        outcome: list[BaseException | str] = []

        def writer_a() -> None:
            try:
                with Store(a_url) as a, a.transaction("np t a (A)", "agent@a") as unit:
                    unit.active_for(str(work))  # the reads (no lock is taken)
                    link.pause()  # the link goes silent now, mid-unit
                    locked.set()
                    unit.add_tasks(sid, [NewTask("from A")])
                outcome.append("committed")
            except BaseException as exc:
                outcome.append(exc)
            finally:
                locked.set()

        thread = threading.Thread(target=writer_a, daemon=True)
        thread.start()
        assert locked.wait(30)
        # Machine B writes to the same plan while A's link is down.
        with Store(pg_url) as b, b.transaction("np t a (B)", "agent@b") as unit:
            unit.add_tasks(sid, [NewTask("from B")])
        link.pause(False)  # A's link comes back
        thread.join(60)
        assert not thread.is_alive()
    assert len(outcome) == 1
    failure = outcome[0]
    assert isinstance(failure, WriteConflict), failure  # never "committed": it was not
    assert "nothing was written" in failure.message, failure.message
    with Store(pg_url) as check:
        titles = [t.title for t in check.tasks(sid)]
        events = check.events(sid)
    assert titles == ["from B"]  # B's change once, none of A's
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.cmd for e in events].count("np t a (B)") == 1
    assert "np t a (A)" not in [e.cmd for e in events]
