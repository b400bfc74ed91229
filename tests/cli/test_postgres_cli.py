"""The CLI on a shared PostgreSQL database: explicit migration, copying between engines
both ways, the scope in ``np ls``, and no password in any output or in the event log."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import create_database, drop_database

from tests.support import np_command


def np(*args: str, cwd: Path, db: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NP_DB": db, **env}
    full.pop("NP_DEBUG", None)
    return subprocess.run(
        [*np_command(), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def empty_pg(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server, migrate=False)
    yield url
    drop_database(pg_server, url)


def with_password(url: str) -> str:
    """The test cluster trusts local connections, so a password is accepted and ignored:
    exactly what is needed to see where np would show it."""
    return url.replace("postgresql://np@", "postgresql://np:hunter2-secret@", 1)


def test_commands_refuse_an_unmigrated_database_until_np_db_migrate(
    empty_pg: str, workdir: Path
) -> None:
    refused = np("s", cwd=workdir, db=empty_pg)
    assert refused.returncode == 3 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "np db migrate" in refused.stderr
    migrated = np("db", "migrate", "--json", cwd=workdir, db=empty_pg)
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["migrate"]["applied"] == [
        name for name, _ in pg_schema_migrations()
    ]
    again = np("db", "migrate", cwd=workdir, db=empty_pg)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert np("s", cwd=workdir, db=empty_pg).returncode == 0


def test_db_copy_into_a_new_empty_postgresql_database(
    empty_pg: str, workdir: Path, tmp_path: Path
) -> None:
    """`np db copy` "into an empty one": a database just made with createdb (no np tables)
    gets np's tables and the copy (a new user's finding: it said "schema 0" and to run
    np db migrate). Other commands still refuse it, in words, not "schema 0"."""
    refused = np("p", cwd=workdir, db=empty_pg)
    assert refused.returncode == 3, refused.stderr
    assert "has no np tables yet" in refused.stderr and "schema 0" not in refused.stderr
    assert "np db migrate" in refused.stderr
    lite = str(tmp_path / "lite.db")
    assert np("s", cwd=workdir, db=lite).returncode == 0
    assert np("t", "a", "-t", "one", cwd=workdir, db=lite).returncode == 0
    copied = np("db", "copy", lite, empty_pg, cwd=workdir, db=lite, NP_SCOPE="team")
    assert copied.returncode == 0, copied.stderr
    plan = np("t", "--json", cwd=workdir, db=empty_pg, NP_SCOPE="team")
    assert [t["title"] for t in json.loads(plan.stdout)["tasks"]] == ["one"], plan.stderr


def test_db_copy_sqlite_to_postgresql_and_back(
    pg_server: str, workdir: Path, tmp_path: Path
) -> None:
    lite = str(tmp_path / "lite.db")
    assert np("s", cwd=workdir, db=lite).returncode == 0
    assert np("g", "s", "-t", "Move me", "-d", "across", cwd=workdir, db=lite).returncode == 0
    assert np("t", "a", "-t", "one", "-t", "two", cwd=workdir, db=lite).returncode == 0
    url = create_database(pg_server)
    try:
        there = np("db", "copy", lite, url, "--json", cwd=workdir, db=lite, NP_SCOPE="team")
        assert there.returncode == 0, there.stderr
        copied = json.loads(there.stdout)["copy"]
        # every table is copied; those this plan leaves empty count 0
        copied_rows = {table: n for table, n in copied["counts"].items() if n}
        assert copied_rows == {
            "sessions": 1,
            "goals": 1,
            "tasks": 2,
            "events": 4,
            "seen": 1,
            "receipts": 3,
        }
        assert copied["scope"] == "team"
        # The copied session gets this machine's scope: np p finds it, np s starts no other.
        plan = np("p", "--json", cwd=workdir, db=url, NP_SCOPE="team")
        assert plan.returncode == 0, plan.stderr
        assert [t["title"] for t in json.loads(plan.stdout)["tasks"]] == ["one", "two"]
        np("s", cwd=workdir, db=url, NP_SCOPE="team")
        listed = json.loads(np("ls", "--json", cwd=workdir, db=url).stdout)["sessions"]
        assert [s["scope"] for s in listed] == ["team"]
        back = str(tmp_path / "back.db")
        home = np("db", "copy", url, back, cwd=workdir, db=lite)
        assert home.returncode == 0 and "both hold the same rows" in home.stdout
        # Counts agree with their nouns (issue 18: "Copied 1 sessions, 1 goals").
        assert home.stdout.startswith("Copied 1 session, 1 goal, 2 tasks, 4 events, "), home
        doctor = np("doctor", cwd=workdir, db=url).stdout
        assert "1 active of 1 session in 1 scope; 2 tasks, " in doctor, doctor
        assert "1 session, 2 tasks, " in np("doctor", cwd=workdir, db=back).stdout
        assert "Scopes were dropped" in home.stdout
        home_ls = json.loads(np("ls", "--json", cwd=workdir, db=back).stdout)["sessions"]
        assert [s.get("scope", "") for s in home_ls] == [""]
        assert np("p", cwd=workdir, db=back).returncode == 0
        refused = np("db", "copy", lite, url, cwd=workdir, db=lite)
        assert refused.returncode == 2 and "already holds" in refused.stderr
        # Two machines' active sessions for one folder cannot both land in SQLite.
        assert np("s", cwd=workdir, db=url, NP_SCOPE="other").returncode == 0
        clash = np("db", "copy", url, str(tmp_path / "clash.db"), cwd=workdir, db=lite)
        assert clash.returncode == 2 and "would collide" in clash.stderr, clash.stderr
    finally:
        drop_database(pg_server, url)


def test_np_ls_shows_the_scope_on_postgresql_only(
    pg_server: str, workdir: Path, tmp_path: Path
) -> None:
    url = create_database(pg_server)
    try:
        assert np("s", cwd=workdir, db=url, NP_SCOPE="laptop-7").returncode == 0
        listed = np("ls", cwd=workdir, db=url).stdout
        assert "laptop-7" in listed and str(workdir.resolve()) in listed
        lite = str(tmp_path / "lite.db")
        assert np("s", cwd=workdir, db=lite, NP_SCOPE="laptop-7").returncode == 0
        assert "laptop-7" not in np("ls", cwd=workdir, db=lite).stdout  # SQLite: no scope
    finally:
        drop_database(pg_server, url)


def test_no_password_in_any_output_or_in_the_event_log(
    pg_server: str, workdir: Path, tmp_path: Path
) -> None:
    url = create_database(pg_server)
    secret_url = with_password(url)
    try:
        outputs = []
        for args in (
            ("--db", secret_url, "s"),
            ("--db", secret_url, "t", "a", "-t", "x"),
            ("--db", secret_url, "log", "--json"),
            ("--db", secret_url, "doctor"),
            ("--db", secret_url, "backup", str(tmp_path)),
            ("--db", secret_url, "db", "migrate"),
        ):
            done = np(*args, cwd=workdir, db=str(tmp_path / "unused.db"))
            assert done.returncode == 0, (args, done.stderr)
            outputs.append(done.stdout + done.stderr)
        unreachable = secret_url.split("?")[0] + "?host=/nonexistent-np-socket"
        failed = np("p", cwd=workdir, db=unreachable)
        assert failed.returncode == 3 and "cannot be reached" in failed.stderr
        outputs.append(failed.stdout + failed.stderr)
        for text in outputs:
            assert "hunter2" not in text, text
        events = json.loads(outputs[2])["events"]
        assert events[0]["cmd"].startswith("np --db 'postgresql://np:***@")
    finally:
        drop_database(pg_server, url)


def test_a_refused_login_or_a_bad_url_is_not_called_unreachable(
    pg_server: str, workdir: Path
) -> None:
    """F2: libpq gives no SQLSTATE at connect time; np tells a missing role and a bad URL
    parameter apart from a network it cannot reach."""
    assert pg_server.startswith("postgresql://np@")
    nobody = np("p", cwd=workdir, db=pg_server.replace("np@", "nobody_here@", 1))
    assert nobody.returncode == 3
    assert "has no role nobody_here" in nobody.stderr and "network" not in nobody.stderr
    sep = "&" if "?" in pg_server else "?"
    bad = np("p", "--json", cwd=workdir, db=f"{pg_server}{sep}connect_timeout=abc")
    assert bad.returncode == 3
    error = json.loads(bad.stdout or bad.stderr)["error"]
    assert "cannot be parsed: connect_timeout" in error["message"]
    assert error["data"]["cause"] == "bad_url"


def test_a_failed_tls_handshake_is_not_called_unreachable(pg_server: str, workdir: Path) -> None:
    """A server reached over TCP whose TLS handshake fails (here: no TLS at all) is named
    as such, and ``sslnegotiation=direct`` against a server older than PostgreSQL 17 says
    what to remove, not "check the network"."""
    import socket

    from bench.delay_proxy import DelayProxy

    socket_dir = pg_server.split("host=", 1)[1].split("&", 1)[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with DelayProxy(f"127.0.0.1:{port}", f"{socket_dir}/.s.PGSQL.5432", 0.0):
        tcp = f"postgresql://np@127.0.0.1:{port}/postgres?connect_timeout=10"
        causes = {}
        for query in ("&sslmode=require&sslnegotiation=direct", "&sslmode=require"):
            failed = np("p", "--json", cwd=workdir, db=tcp + query)
            assert failed.returncode == 3, failed.stderr
            error = json.loads(failed.stdout or failed.stderr)["error"]
            assert "cannot be reached" not in error["message"]
            assert "TLS handshake" in error["message"]
            causes[query] = error
        direct = causes["&sslmode=require&sslnegotiation=direct"]
        assert direct["data"]["cause"] == "tls_direct_refused"
        assert "needs PostgreSQL 17" in direct["message"]
        plain = causes["&sslmode=require"]
        assert plain["data"]["cause"] == "tls" and "does not support SSL" in plain["message"]
        reached = np("p", cwd=workdir, db=tcp + "&sslmode=disable")  # the same way in, no TLS
        assert "np db migrate" in reached.stderr and "TLS" not in reached.stderr


def test_the_default_actor_on_postgresql_names_the_machine(
    pg_server: str, workdir: Path, tmp_path: Path
) -> None:
    """F4: machines sharing a plan through one scope must not all be ``agent``, or one
    machine's agent is never told of another's change."""
    import socket

    url = create_database(pg_server)
    try:
        here = f"agent@{socket.gethostname()}"
        assert np("s", cwd=workdir, db=url, NP_SCOPE="shop").returncode == 0
        added = np("t", "a", "-t", "shared", "--json", cwd=workdir, db=url, NP_SCOPE="shop")
        tid = json.loads(added.stdout)["tasks"][0]["id"]
        # Another machine's agent (its own default actor) fails the task.
        other = np(
            "t", "u", "-i", tid, "-s", "failed", "-r", "broken on B",
            cwd=workdir, db=url, NP_SCOPE="shop", NP_ACTOR="agent@machine-b",
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        log = json.loads(np("log", "--json", cwd=workdir, db=url, NP_SCOPE="shop").stdout)
        assert sorted(e["actor"] for e in log["events"]) == sorted([here, here, "agent@machine-b"])
        told = np("p", cwd=workdir, db=url, NP_SCOPE="shop")
        assert "agent@machine-b" in told.stdout and "broken on B" in told.stdout
        lite = str(tmp_path / "lite.db")
        assert np("s", cwd=workdir, db=lite).returncode == 0
        lite_log = json.loads(np("log", "--json", cwd=workdir, db=lite).stdout)
        assert [e["actor"] for e in lite_log["events"]] == ["agent"]  # SQLite: one machine
    finally:
        drop_database(pg_server, url)


def test_a_login_without_the_password_it_needs_is_refused_not_unreachable(
    pg_server: str, workdir: Path
) -> None:
    """F2: a role that must give a password and has none (libpq's ``needs_password``) is
    a refused login naming the password sources, not a network to debug."""
    import psycopg

    role = "np_pw_test"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        hba = str(admin.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
        if not os.access(hba, os.W_OK):
            pytest.skip("the test cluster's pg_hba.conf is not writable here")
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'RightPW'")
        original = Path(hba).read_text()
        rule = f"local all {role} scram-sha-256\n"
        if rule not in original:
            Path(hba).write_text(rule + original)
            admin.execute("SELECT pg_reload_conf()")
    try:
        url = pg_server.replace("postgresql://np@", f"postgresql://{role}@", 1)
        env = {"PGPASSFILE": str(workdir / "no-such-pgpass")}
        refused = np("p", cwd=workdir, db=url, **env)
        assert refused.returncode == 3
        assert "refused the login" in refused.stderr and "PGPASSWORD" in refused.stderr
        assert "network" not in refused.stderr
    finally:
        Path(hba).write_text(original.replace(rule, ""))
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute("SELECT pg_reload_conf()")


def test_np_db_migrate_by_an_np_app_role_names_the_owner_not_np_app(
    pg_server: str, empty_pg: str, workdir: Path
) -> None:
    """Issue 18: a role that already has np_app was told to grant it np_app; migrating
    needs the tables' owner (or, on a new database, a role that may create tables)."""
    import psycopg

    role = f"np_migrate_test_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE np_app")
    migrated = create_database(pg_server)
    try:
        for url in (migrated, empty_pg):
            as_app = url.replace("postgresql://np@", f"postgresql://{role}@", 1)
            r = np("db", "migrate", cwd=workdir, db=as_app)
            assert r.returncode == 3 and r.stdout == "", r
            assert r.stderr.startswith("np: Migrating needs the owner of np's tables"), r.stderr
            assert "grant it the np_app role" not in r.stderr and r.stderr.count("\n") == 1
            j = json.loads(np("db", "migrate", "--json", cwd=workdir, db=as_app).stdout)
            assert j["error"]["data"]["cause"] == "privilege"
            assert j["error"]["data"]["action"] == "db.migrate"
        # as the owner it works; and the app role uses np as before
        assert np("db", "migrate", cwd=workdir, db=empty_pg).returncode == 0
        as_app = empty_pg.replace("postgresql://np@", f"postgresql://{role}@", 1)
        assert np("s", cwd=workdir, db=as_app).returncode == 0
    finally:
        drop_database(pg_server, migrated)
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")  # it owns nothing: np_app's grants


def pg_schema_migrations() -> tuple[tuple[str, str], ...]:
    """Every migration np knows, in order (whatever later issues add)."""
    from store.postgres.schema import MIGRATIONS

    return MIGRATIONS
