"""``np m`` on PostgreSQL survives the database dropping its connection (a restart, a
failover): the next change is read on a fresh connection instead of ending the monitor
with a storage error (F6's sibling)."""

from __future__ import annotations

from pathlib import Path

from pg_support import create_database, drop_database

from server.monitor.watcher import Watcher
from store import NewTask, Store


def test_the_watcher_reads_on_after_its_connection_was_cut(pg_server: str, tmp_path: Path) -> None:
    import psycopg

    db = create_database(pg_server)
    try:
        with Store(db) as writer, Store(db) as reader:
            with writer.transaction("np s") as unit:
                sid = unit.start_session(str(tmp_path)).sid
            watcher = Watcher(reader, str(tmp_path))
            watcher.load()
            assert reader.conn.raw is not None
            with psycopg.connect(pg_server, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(%s)", (reader.conn.raw.info.backend_pid,)
                )
            with writer.transaction("np t a") as unit:
                unit.add_tasks(sid, [NewTask("seen after the cut")])
            assert watcher.apply({sid})
            assert watcher.plan is not None
            assert [t.title for t in watcher.plan.tasks] == ["seen after the cut"]
            assert [e.type for e in watcher.events][-1] == "task_added"
    finally:
        drop_database(pg_server, db)
