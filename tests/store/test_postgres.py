"""PostgreSQL-only guarantees: schema parity with SQLite, the session-start race, a change
feed that misses nothing under concurrent writers (and across a broken connection),
privileges, explicit migration, lock timeouts and secrets kept out of messages.

Every test here needs the test cluster (``pg_support``); in CI a missing cluster fails.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from pg_support import create_database, drop_database

from store import NewTask, StorageBusy, StorageError, Store
from store.errors import WriteConflict
from store.feed import open_feed


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)


def raw(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


# -- schema parity ----------------------------------------------------------------------


def sqlite_shape(path: str) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    columns = {
        t: [(r[1], bool(r[3]) or bool(r[5])) for r in conn.execute(f"PRAGMA table_info({t})")]
        for t in tables
    }
    indexes = {
        r[0]: (r[1], "WHERE" in (r[2] or "").upper())
        for r in conn.execute(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
            "AND sql IS NOT NULL AND tbl_name IN (SELECT value FROM json_each(?))",
            (json.dumps(tables),),
        )
    }
    uniques = set()
    for t in tables:
        info = sorted((r[5], r[1]) for r in conn.execute(f"PRAGMA table_info({t})") if r[5])
        uniques.add((t, tuple(name for _, name in info)))  # the primary key (rowid or not)
        for idx in conn.execute(f"PRAGMA index_list({t})"):
            if idx[2]:  # unique
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info('{idx[1]}')"))
                uniques.add((t, cols))
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    conn.close()
    return {
        "columns": columns,
        "indexes": indexes,
        "uniques": uniques,
        "triggers": triggers,
    }


def pg_shape(url: str) -> dict[str, Any]:
    with raw(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename NOT LIKE 'np\\_%' ORDER BY tablename"
            )
        ]
        columns = {
            t: [
                (r[0], r[1] == "NO")
                for r in conn.execute(
                    "SELECT column_name, is_nullable FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s "
                    "ORDER BY ordinal_position",
                    (t,),
                )
            ]
            for t in tables
        }
        indexes = {}
        uniques = set()
        for name, table, unique, partial, cols, is_constraint in conn.execute(
            "SELECT i.relname, t.relname, x.indisunique, x.indpred IS NOT NULL, "
            "array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o) "
            "      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), "
            "EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.oid) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(%s)",
            (tables,),
        ):
            if not is_constraint:
                indexes[name] = (table, partial)
            if unique:
                uniques.add((table, tuple(cols)))
        triggers = {
            r[0]
            for r in conn.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid::regclass::text = ANY(%s)",
                (tables,),
            )
        }
    return {"columns": columns, "indexes": indexes, "uniques": uniques, "triggers": triggers}


# Guards only PostgreSQL needs: TRUNCATE skips row triggers, so statement triggers refuse it.
PG_ONLY_TRIGGERS = {"events_no_truncate", "tasks_no_truncate"}


def test_schema_parity_same_migrations_columns_constraints_and_indexes(
    tmp_path: Path, pg_url: str
) -> None:
    from store.postgres import schema as pg_schema
    from store.sqlite.migrations import migrations
    from store.sqlite.schema import SCHEMA_VERSION

    sqlite_names = [m.name for m in migrations._migrations]
    assert sqlite_names == [name for name, _ in pg_schema.MIGRATIONS]
    assert pg_schema.SCHEMA_VERSION == SCHEMA_VERSION == len(sqlite_names)

    path = str(tmp_path / "np.db")
    Store(path).close()
    lite, pg = sqlite_shape(path), pg_shape(pg_url)
    assert lite["columns"] == pg["columns"]
    # events.id: SQLite's rowid alias is "not null" by being the key; so is PostgreSQL's.
    assert lite["indexes"] == pg["indexes"]
    assert lite["uniques"] == pg["uniques"]
    assert pg["triggers"] - PG_ONLY_TRIGGERS == lite["triggers"]


def test_ordinary_opens_refuse_an_unmigrated_or_newer_database(pg_server: str) -> None:
    url = create_database(pg_server, migrate=False)
    try:
        # Refused at its first statement (the check rides with it: no round trip of its own)
        with pytest.raises(StorageError) as older, Store(url) as store:
            store.sessions()
        assert older.value.data["cause"] == "older_schema"
        with raw(url) as conn:  # nothing was created by the refused open
            assert conn.execute("SELECT to_regclass('sessions')").fetchone() == (None,)
        from store.postgres.conn import connect
        from store.postgres.schema import migrate

        pg = connect(url)
        assert migrate(pg.raw) == [name for name, _ in pg_schema_migrations()]
        assert migrate(pg.raw) == []  # idempotent
        pg.raw.execute("UPDATE np_meta SET schema_version = 99")
        pg.close()
        with pytest.raises(StorageError) as newer, Store(url) as store:
            with store.transaction("np s") as unit:
                unit.find_active("/")
        assert newer.value.data["schema_version"] == 99
    finally:
        drop_database(pg_server, url)


# -- races, locks and time ---------------------------------------------------------------------


def test_parent_and_child_start_race_is_serialised(pg_url: str, tmp_path: Path) -> None:
    """``np s`` in a directory and in its child at once. Serialised, either the parent wins
    (the child is refused: a session never starts below an active one) or the child wins
    and the parent starts after it (a session may start *above* an active one). What must
    never happen, and did without the lock, is the child starting below a parent that was
    already active: the transaction ids of the inserts (``xmin``) tell the order."""
    parent = tmp_path / "p"
    child = parent / "child"
    child.mkdir(parents=True)
    stores = [Store(pg_url), Store(pg_url)]
    seen: set[str] = set()
    try:
        for trial in range(12):
            barrier = threading.Barrier(2)
            outcomes: dict[str, str] = {}

            def start(
                store: Store,
                where: Path,
                who: str,
                barrier: threading.Barrier = barrier,
                outcomes: dict[str, str] = outcomes,
            ) -> None:
                barrier.wait()
                for _ in range(5):  # as every door does: a write overtaken runs again
                    try:
                        with store.transaction("np s") as unit:
                            unit.start_session(str(where))
                        outcomes[who] = "started"
                    except WriteConflict:
                        continue
                    except Exception as exc:
                        outcomes[who] = type(exc).__name__
                    break

            threads = [
                threading.Thread(target=start, args=(stores[0], parent, "parent")),
                threading.Thread(target=start, args=(stores[1], child, "child")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert outcomes["parent"] == "started", (trial, outcomes)
            with raw(pg_url) as conn:
                order = dict(
                    conn.execute(
                        "SELECT dir, xmin::text::bigint FROM sessions WHERE state = 'active'"
                    ).fetchall()
                )
            seen.add(outcomes["child"])
            if outcomes["child"] == "started":
                assert order[str(child.resolve())] < order[str(parent.resolve())], trial
            else:
                assert outcomes["child"] == "SessionAlreadyActive", (trial, outcomes)
                assert list(order) == [str(parent.resolve())]
            active = stores[0].sessions("active")
            with stores[0].transaction("np a") as unit:
                for session in active:
                    unit.archive(session.sid)
    finally:
        for s in stores:
            s.close()


def test_busy_timeout_bounds_the_wait_for_a_locked_session(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
        holder = raw(pg_url)
        holder.execute("BEGIN")
        holder.execute("SELECT 1 FROM sessions WHERE sid = %s FOR UPDATE", (sid,))
        monkeypatch.setenv("NP_BUSY_TIMEOUT", "0.3")
        with Store(pg_url) as waiting:
            started = time.monotonic()
            with pytest.raises(StorageBusy):
                with waiting.transaction("np t a") as unit:
                    unit.add_tasks(sid, [NewTask("blocked")])
            assert time.monotonic() - started < 3
        holder.execute("ROLLBACK")
        holder.close()
        assert store.tasks(sid) == []  # nothing half-written


def test_units_are_stamped_with_the_servers_transaction_time(pg_url: str, tmp_path: Path) -> None:
    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            session = unit.start_session(str(tmp_path))
        first = store.events(session.sid)[0]
        assert first.at == session.created_at == session.last_updated_at
        with store.transaction("np t a") as unit:  # the touch stamps in SQL: same text
            unit.add_tasks(unit.active_for(str(tmp_path)).sid, [NewTask("x")])
        added = store.events(session.sid)[-1]
        assert store.session(session.sid).last_updated_at == added.at > first.at
        with raw(pg_url) as conn:
            (server_now,) = conn.execute(
                "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
            ).fetchone()
        assert abs(_seconds(server_now) - _seconds(first.at[:19])) < 60


def _seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


def test_scope_separates_machines_sharing_one_directory_name(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NP_SCOPE", "laptop-a")
    with Store(pg_url) as a:
        with a.transaction("np s") as unit:
            unit.start_session(str(tmp_path))
    monkeypatch.setenv("NP_SCOPE", "ci-runner-7")
    with Store(pg_url) as b:
        assert b.find_active(str(tmp_path)) is None  # another machine's session
        with b.transaction("np s") as unit:
            started = unit.start_session(str(tmp_path))
        assert started.scope == "ci-runner-7"
        assert sorted(s.scope for s in b.sessions("active")) == ["ci-runner-7", "laptop-a"]


# -- the database itself refuses ----------------------------------------------------------


def test_app_role_may_append_but_never_rewrite_the_log(
    pg_url: str, pg_server: str, tmp_path: Path
) -> None:
    import psycopg

    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
    with raw(pg_server) as admin:
        admin.execute("DROP ROLE IF EXISTS np_agent_test")
        admin.execute("CREATE ROLE np_agent_test LOGIN IN ROLE np_app")
    try:
        agent_url = pg_url.replace("postgresql://np@", "postgresql://np_agent_test@")
        with Store(agent_url) as agent:  # an ordinary agent works as np_app
            with agent.transaction("np t a") as unit:
                unit.add_tasks(sid, [NewTask("allowed")])
        with raw(agent_url) as conn:
            for sql in (
                "UPDATE events SET reason = 'x'",
                "DELETE FROM events",
                "TRUNCATE events CASCADE",
                "DELETE FROM tasks",
                "ALTER TABLE events DISABLE TRIGGER USER",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
        with raw(pg_url) as owner:  # even the owner meets the triggers
            with pytest.raises(psycopg.errors.RestrictViolation):
                owner.execute("TRUNCATE events CASCADE")
            assert owner.execute("SELECT count(*) FROM events").fetchone() == (2,)
    finally:
        with raw(pg_server) as admin:
            admin.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM np_agent_test")
            admin.execute("DROP OWNED BY np_agent_test")
            admin.execute("DROP ROLE IF EXISTS np_agent_test")


def test_passwords_never_appear_in_messages(pg_server: str) -> None:
    from store.url import label, redact

    url = "postgresql://np:s3cr3t-pw@/nosuchdb?host=/nonexistent-np-socket&password=s3cr3t-pw"
    with pytest.raises(StorageError) as unreachable:
        Store(url)
    text = str(unreachable.value.to_dict())
    assert "s3cr3t" not in text and "cannot be reached" in text
    assert "s3cr3t" not in redact(url) and "***" in redact(url)
    assert "s3cr3t" not in label(url) and "np@" not in label(url)
    wrong_db = pg_server.replace("/postgres?", "/no_such_np_db?").replace(
        "postgresql://np@", "postgresql://np:s3cr3t-pw@"
    )
    with pytest.raises(StorageError) as missing:
        Store(wrong_db)
    assert "s3cr3t" not in str(missing.value.to_dict())
    assert missing.value.data["cause"] == "no_database"


# -- the change feed ----------------------------------------------------------------------------


def test_feed_misses_nothing_under_concurrent_writers_and_a_broken_connection(
    pg_url: str, tmp_path: Path
) -> None:
    writers, units = 4, 40
    dirs = [tmp_path / f"w{i}" for i in range(writers)]
    sids = []
    with Store(pg_url) as store:
        for d in dirs:
            d.mkdir()
            with store.transaction("np s") as unit:
                sids.append(unit.start_session(str(d)).sid)
    feed = open_feed(pg_url)
    seen: dict[str, list[int]] = {sid: [] for sid in sids}
    stop = threading.Event()

    def write(sid: str) -> None:
        with Store(pg_url) as mine:
            for n in range(units):
                with mine.transaction("np t a") as unit:
                    unit.add_tasks(sid, [NewTask(f"t{n}")])

    threads = [threading.Thread(target=write, args=(sid,)) for sid in sids]
    for t in threads:
        t.start()
    broke = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for change in feed.poll():
            seen[change.sid].append(change.seq)
        if not broke and sum(map(len, seen.values())) > 5:
            # Cut the listening connection from the server side: the feed must resync.
            with raw(pg_url) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'np-watch' AND query ILIKE 'LISTEN%%'"
                )
            broke = True
        if all(not t.is_alive() for t in threads) and all(
            s and s[-1] == units + 1 for s in seen.values()
        ):
            break
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(30)
    for change in feed.poll():
        seen[change.sid].append(change.seq)
    feed.close()
    assert broke
    for sid in sids:
        assert seen[sid] == sorted(set(seen[sid])), seen[sid]  # never backwards or twice
        assert seen[sid][-1] == units + 1  # the newest event of every session was reported


def test_feed_from_start_reports_history_and_notifies_across_connections(
    pg_url: str, tmp_path: Path
) -> None:
    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
        history = open_feed(pg_url, from_start=True)
        (first,) = history.poll()
        assert (first.sid, first.seq, str(first.type)) == (sid, 1, "session_started")
        history.close()
        feed = open_feed(pg_url)
        assert feed.poll() == []
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("a"), NewTask("b")])
        deadline = time.monotonic() + 5
        changes: list[Any] = []
        while not changes and time.monotonic() < deadline:
            changes = feed.poll()
            time.sleep(0.01)
        (change,) = changes
        assert (change.sid, change.dir, change.seq, str(change.type)) == (
            sid,
            str(tmp_path.resolve()),
            3,
            "task_added",
        )
        assert feed.poll() == []
        feed.close()


def test_feed_takes_a_told_change_as_is_and_reads_a_hint(pg_url: str, tmp_path: Path) -> None:
    """A commit's notification says its change (the folder may hold spaces): the feed
    reports it without a read. A notification that only names the session and seq (an
    older np; a folder too long for a payload) is read; one for nothing new is dropped."""
    from store.postgres.feed import PAYLOAD_LIMIT, payload
    from store.types import EventType

    work = tmp_path / "a folder  with spaces"
    work.mkdir()
    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(work)).sid
        feed = open_feed(pg_url)
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("a")])

        def next_changes() -> list[Any]:
            deadline = time.monotonic() + 5
            found: list[Any] = []
            while not found and time.monotonic() < deadline:
                found = feed.poll()
                time.sleep(0.01)
            return found

        (told,) = next_changes()
        assert (told.sid, told.dir, told.seq, str(told.type)) == (
            sid,
            str(work.resolve()),
            2,
            "task_added",
        )
        with raw(pg_url) as other:  # an older np's unit: its notification only hints
            other.execute("BEGIN")
            other.execute(
                "INSERT INTO events (sid, seq, at, type, cmd, payload) "
                "VALUES (%s, 3, '2030-01-01T00:00:00.000000Z', 'task_updated', 'old', '{}')",
                (sid,),
            )
            other.execute("SELECT pg_notify('np_changes', %s)", (f"{sid} 3",))
            other.execute("SELECT pg_notify('np_changes', %s)", ("nosuchsession 9",))
            other.execute("COMMIT")
        (hinted,) = next_changes()
        assert (hinted.sid, hinted.dir, hinted.seq) == (sid, str(work.resolve()), 3)
        assert feed.poll() == []
        feed.close()
    long_dir = "/x" * PAYLOAD_LIMIT
    assert payload(sid, 4, EventType.TASK_ADDED, long_dir) == f"{sid} 4"
    assert payload(sid, 4, EventType.TASK_ADDED, "/p q") == f"{sid} 4 task_added /p q"


# -- operations ---------------------------------------------------------------------------------


def test_copy_sqlite_to_postgresql_and_back_is_exact(pg_url: str, tmp_path: Path) -> None:
    from store.ops.copy import _with_scope, copy_database, fingerprint
    from store.settings import shared_scope as default_scope

    work = tmp_path / "w"
    work.mkdir()
    source = str(tmp_path / "source.db")
    with Store(source) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(work)).sid
        with store.transaction("np g s") as unit:
            unit.set_goal(sid, "Goal «ünïcode»", 'quotes " and \\ and\nnewline')
        with store.transaction("np t a") as unit:
            ids = [t.id for t in unit.add_tasks(sid, [NewTask(f"t{i}") for i in range(30)])]
        with store.transaction("np t u") as unit:
            from store import Status, StatusChange

            unit.set_statuses(sid, [StatusChange(ids[0], Status.FAILED, "broke")])
        expected = fingerprint(store)
        scoped = fingerprint(store, _with_scope(default_scope()))
    there = copy_database(source, pg_url)
    # Into PostgreSQL, SQLite's sessions take this machine's scope, so np finds them there.
    assert (there.counts, there.fingerprint, there.scope) == (*scoped, default_scope())
    with Store(pg_url) as pg:
        assert pg.find_active(str(work)) is not None
    back = str(tmp_path / "back.db")
    again = copy_database(pg_url, back)
    assert again.fingerprint == expected[1] and again.scopes_dropped
    with Store(back) as copy, Store(pg_url) as pg:
        assert copy.plan(sid) == attrs.evolve(
            pg.plan(sid), session=attrs.evolve(pg.plan(sid).session, scope="")
        )
        assert copy.events(sid) == pg.events(sid)
    with pytest.raises(Exception, match="already holds"):
        copy_database(source, pg_url)  # never mixes two histories


def test_backup_and_doctor_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from store.ops import backup, diagnose

    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("x")])
    result = backup(pg_url, str(tmp_path / "copy.db"))
    assert result.integrity == "ok" and result.counts["events"] == 2
    with Store(result.path) as copy:
        assert [t.title for t in copy.tasks(sid)] == ["x"]
    with pytest.raises(Exception, match="never overwrites"):
        backup(pg_url, result.path)
    report = diagnose(pg_url)
    by_name = {c.name: c for c in report.checks}
    assert report.healthy
    assert {"database", "schema", "consistency", "notify", "privileges", "durability"} <= set(
        by_name
    )
    assert str(by_name["notify"].status) == "ok"
    assert str(by_name["settings"].status) == "ok"  # np's startup options reached the server
    broken = diagnose(pg_url.replace("host=", "host=/nonexistent"))
    assert not broken.healthy


def test_a_store_reconnects_after_its_connection_is_cut(pg_url: str, tmp_path: Path) -> None:
    """A long-lived store (``np serve``) whose connection the server dropped reports it
    once (nothing written), then works again without a restart."""
    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
        with raw(pg_url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (store.conn.raw.info.backend_pid,))
        with pytest.raises(StorageError) as cut:
            with store.transaction("np t a") as unit:
                unit.add_tasks(sid, [NewTask("lost in the cut")])
        assert cut.value.data["cause"] == "connection_lost"
        with store.transaction("np t a") as unit:
            unit.add_tasks(sid, [NewTask("after")])
        assert [t.title for t in store.tasks(sid)] == ["after"]


@pytest.mark.parametrize("landed", [True, False])
def test_a_connection_lost_while_committing_is_resolved_by_looking(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    """When the answer to COMMIT is lost, np looks on a fresh connection: a unit that
    landed is reported as done (never as failed), one that did not as nothing written."""
    import contextlib

    from store.postgres.conn import PgConnection

    with Store(pg_url) as store:
        with store.transaction("np s") as unit:
            sid = unit.start_session(str(tmp_path)).sid
        real_write = PgConnection.unit
        lost = StorageError("lost", cause="connection_lost", committing=True)

        @contextlib.contextmanager
        def flaky(self: PgConnection) -> Iterator[Any]:
            with real_write(self) as clock:
                yield clock
                if not landed:
                    raise lost  # rolled back: the COMMIT never happened
            raise lost  # committed, but the answer was "lost"

        monkeypatch.setattr(PgConnection, "unit", flaky)
        if landed:
            with store.transaction("np t a") as unit:
                unit.add_tasks(sid, [NewTask("kept")])
        else:
            with pytest.raises(StorageError, match="nothing was written"):
                with store.transaction("np t a") as unit:
                    unit.add_tasks(sid, [NewTask("never")])
        monkeypatch.undo()
        assert [t.title for t in store.tasks(sid)] == (["kept"] if landed else [])


def pg_schema_migrations() -> tuple[tuple[str, str], ...]:
    """Every migration np knows, in order (whatever later issues add)."""
    from store.postgres.schema import MIGRATIONS

    return MIGRATIONS


def test_an_empty_database_is_told_so_whenever_the_schema_checks_error_comes_back(
    pg_server: str,
) -> None:
    """psycopg reads what has come back while it queues a pipeline's next statement, so the
    schema check's error (a database without np's tables) can surface at that statement
    rather than at the Sync; it still says "no np tables yet" (cause older_schema, version
    0), never "no such table" — what np db copy decides on (a cold run's failure). The
    socket being readable is the real condition: the check's answer has come back."""
    import select

    from store.errors import StorageError
    from store.postgres.conn import connect
    from store.postgres.engine import _check_schema

    url = create_database(pg_server, migrate=False)
    try:
        conn = connect(url, check=_check_schema)
        try:
            with pytest.raises(StorageError) as raised, conn.read():
                conn.execute("SELECT 1")  # queued with the BEGIN and the schema check
                conn.raw.pgconn.flush()
                assert select.select([conn.raw.fileno()], [], [], 30)[0]
                conn.execute("SELECT count(*) FROM sessions").fetchall()
            assert raised.value.data.get("cause") == "older_schema", raised.value
            assert raised.value.data.get("schema_version") == 0
            assert "no np tables yet" in str(raised.value)
        finally:
            conn.close()
    finally:
        drop_database(pg_server, url)
