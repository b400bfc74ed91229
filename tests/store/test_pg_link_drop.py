"""A writer whose network stops in the middle of its unit of work does not stall the other
machines' writes to the same plan for longer than the documented bound.

Writer A reaches the server through ``bench.delay_proxy`` on loopback. Right after its
unit took the session's lock (its first round trip), the proxy stops forwarding in both
directions: a link that went silent, A's COMMIT stuck on the way. Writer B (another
"machine", straight to the server) writes to the same plan with ``NP_BUSY_TIMEOUT=5``:
the server cuts A off after ``UNIT_IDLE_TIMEOUT`` (2 s) idle inside its unit, so B gets
the lock within its wait and succeeds (with the old 30 s idle bound B failed
``storage_busy``). Then A's link comes back: A says nothing was written, truthfully; the
log holds B's change once and none of A's; every seq is there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from bench.delay_proxy import DelayProxy
from store import NewTask, StorageError, Store
from store.postgres.conn import UNIT_IDLE_TIMEOUT


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


def test_a_writer_whose_link_drops_mid_unit_stalls_nobody_past_the_bound(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert UNIT_IDLE_TIMEOUT < 5  # B's NP_BUSY_TIMEOUT below: the bound is inside its wait
    monkeypatch.setenv("NP_BUSY_TIMEOUT", "5")
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
                    unit.active_for(str(work))  # the lock, and the reads behind it
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
    assert isinstance(failure, StorageError), failure  # never "committed": it was not
    assert "nothing was written" in failure.message, failure.message
    with Store(pg_url) as check:
        titles = [t.title for t in check.tasks(sid)]
        events = check.events(sid)
    assert titles == ["from B"]  # B's change once, none of A's
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.cmd for e in events].count("np t a (B)") == 1
    assert "np t a (A)" not in [e.cmd for e in events]
