"""Liveness on PostgreSQL: under a steady stream of writes to one plan every writer finishes.

A unit of work decides without a lock and is run again when another writer overtook it
(``store.errors.WriteConflict``). Alone that could starve a writer: each run is overtaken
again. After ``OPTIMISTIC_TRIES`` refusals in a row the next run takes the session's lock
with its reads, so it cannot be overtaken. Here many writers share one plan while the door's
retry budget is cut to exactly that (``OPTIMISTIC_TRIES`` + 1 runs): a writer that ran out
would fail the test. Nothing is lost or doubled and the log stays gapless.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from server.commands import table
from server.commands.table import Context, execute
from store import Store
from store.postgres.unit import OPTIMISTIC_TRIES

WRITERS = 8
WRITES = 12  # each: add a task, then every other write completes the one it added


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


def test_no_writer_runs_out_of_retries_on_one_busy_plan(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table, "WRITE_ATTEMPTS", OPTIMISTIC_TRIES + 1)
    folder = str(tmp_path)
    with Store(pg_url) as store:
        sid = execute("np.session.start", Context(store, folder, "setup"), {})["session"]["sid"]

    stores = [Store(pg_url) for _ in range(WRITERS)]
    refused: list[str] = []
    gate = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        ctx = Context(stores[n], folder, f"writer {n}", actor=f"w{n}")
        gate.wait(30)
        added = ""
        for k in range(WRITES):
            try:
                if k % 2 == 0:
                    tasks = [{"title": f"w{n} {k}"}]
                    added = execute("np.task.add", ctx, {"tasks": tasks})["added"][0]
                else:
                    update = {"id": added, "status": "completed"}
                    execute("np.task.update", ctx, {"updates": [update]})
            except Exception as exc:  # a refusal here is the failure under test
                refused.append(f"writer {n}, write {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
    finally:
        for s in stores:
            s.close()
    assert refused == []

    with Store(pg_url) as store:
        events = list(store.events(sid))
        tasks = store.tasks(sid)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # gapless
    counted = Counter((e.cmd, e.type) for e in events)
    for n in range(WRITERS):  # each write once: nothing lost, nothing doubled
        assert counted[(f"writer {n}", "task_added")] == WRITES // 2
        assert counted[(f"writer {n}", "task_status_changed")] == WRITES // 2
    assert len(tasks) == WRITERS * WRITES // 2
    assert all(t.status == "completed" for t in tasks)
