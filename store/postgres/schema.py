"""np's schema on PostgreSQL: the same migrations, by the same names, as SQLite's.

Each migration in :data:`MIGRATIONS` is the PostgreSQL body of the SQLite migration of the
same name in ``store.sqlite.migrations`` (a parity test holds them together). Applied migrations
are recorded in ``np_migrations`` (the twin of sqlite-utils' ``_sqlite_migrations``) and the
version in the one-row ``np_meta`` table (the twin of ``PRAGMA user_version``).

On a shared database np never migrates by itself: one upgraded laptop would lock out every
older client. :func:`migrate` runs only for ``np db migrate``; every other command checks
the version with :func:`read_version` and refuses an older or a newer schema.

Invariants are enforced by the database, as on SQLite: CHECKs, a partial unique index (one
active session per scope and directory), a gapless ``seq`` per session, an append-only log
and tasks that are never deleted (row triggers, plus statement triggers against
``TRUNCATE``), and on top of them privileges: the ``np_app`` group role may read and append
events but not change or delete them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StorageError

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

MIGRATION_SET = "np"
APP_ROLE = "np_app"
MIGRATE_LOCK = "np:migrate"  # pg_advisory_xact_lock(hashtext(…)) while migrating

M001_INITIAL = """
CREATE TABLE sessions (
    sid TEXT COLLATE "C" PRIMARY KEY CHECK (length(sid) = 26),
    dir TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL CHECK (state IN ('active', 'archived')),
    created_at TEXT COLLATE "C" NOT NULL,
    last_updated_at TEXT COLLATE "C" NOT NULL,
    archived_at TEXT COLLATE "C",
    CHECK ((state = 'archived') = (archived_at IS NOT NULL))
);
CREATE UNIQUE INDEX sessions_one_active_per_dir ON sessions(dir) WHERE state = 'active';
CREATE TABLE goals (
    sid TEXT COLLATE "C" PRIMARY KEY REFERENCES sessions(sid),
    title TEXT COLLATE "C" NOT NULL CHECK (length(trim(title)) > 0),
    description TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE tasks (
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    id TEXT COLLATE "C" NOT NULL CHECK (length(id) BETWEEN 1 AND 8 AND id = lower(id)),
    title TEXT COLLATE "C" NOT NULL CHECK (length(trim(title)) > 0),
    description TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    created_seq BIGINT NOT NULL,
    PRIMARY KEY (sid, id),
    UNIQUE (sid, created_seq)
);
-- Text compares byte-wise (COLLATE "C"), as in SQLite, whatever the database's locale.
-- id is NOT in commit order on PostgreSQL: watchers use (sid, seq), never id.
-- payload is JSON (not JSONB): it keeps the exact text np wrote, so exports stay
-- byte-identical to SQLite's.
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    at TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL CHECK (type IN ('session_started', 'goal_set', 'goal_updated',
        'task_added', 'task_updated', 'task_status_changed', 'session_archived')),
    reason TEXT COLLATE "C",
    cmd TEXT COLLATE "C" NOT NULL,
    payload JSON NOT NULL,
    UNIQUE (sid, seq)
);
CREATE FUNCTION np_events_gapless() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.seq <> (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = NEW.sid) THEN
    RAISE EXCEPTION 'np: event seq must follow the last one without a gap'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION np_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER events_gapless BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION np_events_gapless();
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION np_append_only('np: the event log is append-only');
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION np_append_only('np: the event log is append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION np_append_only('np: the event log is append-only');
CREATE TRIGGER tasks_no_delete BEFORE DELETE ON tasks
  FOR EACH ROW EXECUTE FUNCTION
    np_append_only('np: tasks are never deleted; cancel them with a reason');
CREATE TRIGGER tasks_no_truncate BEFORE TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION
    np_append_only('np: tasks are never deleted; cancel them with a reason');
"""

# Who made each event, what each actor has seen, why a task failed or was cancelled.
M002_ACTORS_SEEN_AND_TASK_REASONS = """
ALTER TABLE events ADD COLUMN actor TEXT COLLATE "C";
CREATE TABLE seen (
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    actor TEXT COLLATE "C" NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    seq BIGINT NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (sid, actor)
);
ALTER TABLE tasks ADD COLUMN reason TEXT COLLATE "C";
UPDATE tasks SET reason = (
    SELECT e.reason FROM events e
    WHERE e.sid = tasks.sid AND e.type = 'task_status_changed'
      AND e.payload->>'task_id' = tasks.id
    ORDER BY e.seq DESC LIMIT 1
)
WHERE status IN ('failed', 'cancelled');
"""

# Sessions remember their directory's identity (st_dev, st_ino) and the log takes
# session_moved. Unlike SQLite, PostgreSQL changes the CHECK in place (no table rebuild).
# The identity of existing sessions stays NULL: the server cannot look at the folders of
# the machines that started them (each machine records it when it starts a session).
M003_DIRECTORY_IDENTITY_AND_MOVES = """
ALTER TABLE sessions ADD COLUMN dir_dev BIGINT;
ALTER TABLE sessions ADD COLUMN dir_ino BIGINT;
CREATE INDEX sessions_dir_identity ON sessions(dir_ino, dir_dev);
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN ('session_started',
    'goal_set', 'goal_updated', 'task_added', 'task_updated', 'task_status_changed',
    'session_archived', 'session_moved'));
"""

# Sessions gain a scope (a host name, or NP_SCOPE): one active session per (scope, dir).
M004_SESSION_SCOPE = """
ALTER TABLE sessions ADD COLUMN scope TEXT COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX sessions_one_active_per_dir;
CREATE UNIQUE INDEX sessions_one_active_per_scope_dir ON sessions(scope, dir)
    WHERE state = 'active';
"""

# Many agents on one plan: claims, dependencies, idempotency keys, joined folders; the log
# takes task_claimed, task_after_changed and session_joined (store/migrations.py m005).
M005_CLAIMS_DEPENDENCIES_KEYS_JOINS = """
ALTER TABLE tasks ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE tasks ADD COLUMN claim_expires_at TEXT COLLATE "C";
CREATE TABLE task_after (
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    task_id TEXT COLLATE "C" NOT NULL,
    after_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (sid, task_id, after_id)
);
CREATE TABLE requests (
    actor TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    command TEXT COLLATE "C" NOT NULL,
    args TEXT COLLATE "C" NOT NULL,
    sid TEXT COLLATE "C",
    result JSON NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE TABLE joins (
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    scope TEXT COLLATE "C" NOT NULL DEFAULT '',
    dir TEXT COLLATE "C" NOT NULL,
    at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (scope, dir, sid)
);
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN ('session_started',
    'goal_set', 'goal_updated', 'task_added', 'task_updated', 'task_status_changed',
    'session_archived', 'session_moved', 'task_claimed', 'task_after_changed',
    'session_joined'));
"""

# Receipts (when each actor's seen moved forward), a task's open question, and the three
# event types of asks (issue 23; store/migrations.py m006).
M006_RECEIPTS_AND_ASKS = """
CREATE TABLE receipts (
    sid TEXT COLLATE "C" NOT NULL REFERENCES sessions(sid),
    actor TEXT COLLATE "C" NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
    seq BIGINT NOT NULL CHECK (seq >= 0),
    at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (sid, actor, seq)
);
INSERT INTO receipts (sid, actor, seq, at)
SELECT s.sid, s.actor, s.seq, coalesce((SELECT e.at FROM events e
    WHERE e.sid = s.sid AND e.seq = s.seq), (SELECT created_at FROM sessions WHERE sid = s.sid))
FROM seen s;
ALTER TABLE tasks ADD COLUMN ask TEXT COLLATE "C" CHECK (ask IS NULL OR ask::json IS NOT NULL);
ALTER TABLE events DROP CONSTRAINT events_type_check;
ALTER TABLE events ADD CONSTRAINT events_type_check CHECK (type IN ('session_started',
    'goal_set', 'goal_updated', 'task_added', 'task_updated', 'task_status_changed',
    'session_archived', 'session_moved', 'task_claimed', 'task_after_changed',
    'session_joined', 'task_asked', 'task_answered', 'task_ask_withdrawn'));
"""

# The claims an actor holds, found without reading the session's tasks (m007 on SQLite).
M007_CLAIMS_INDEX = """
CREATE INDEX tasks_claims ON tasks(sid, claimed_by) WHERE claimed_by IS NOT NULL;
"""

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("m001_initial", M001_INITIAL),
    ("m002_actors_seen_and_task_reasons", M002_ACTORS_SEEN_AND_TASK_REASONS),
    ("m003_directory_identity_and_moves", M003_DIRECTORY_IDENTITY_AND_MOVES),
    ("m004_session_scope", M004_SESSION_SCOPE),
    ("m005_claims_dependencies_keys_joins", M005_CLAIMS_DEPENDENCIES_KEYS_JOINS),
    ("m006_receipts_and_asks", M006_RECEIPTS_AND_ASKS),
    ("m007_claims_index", M007_CLAIMS_INDEX),
)
SCHEMA_VERSION = len(MIGRATIONS)

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS np_meta (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS np_migrations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_set TEXT NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    UNIQUE (migration_set, name)
);
"""

# What the np_app group role may do: read everything, append events, write sessions, goals
# and tasks, but never UPDATE, DELETE or TRUNCATE the log, nor DELETE or TRUNCATE tasks.
_GRANTS = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    BEGIN
      CREATE ROLE {APP_ROLE} NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'np: cannot create role {APP_ROLE}; grant privileges by hand';
    END;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    GRANT SELECT ON np_meta, np_migrations TO {APP_ROLE};
    GRANT SELECT, INSERT, UPDATE ON sessions, goals, tasks TO {APP_ROLE};
    GRANT SELECT, INSERT ON events TO {APP_ROLE};
    GRANT SELECT, INSERT, UPDATE ON seen TO {APP_ROLE};
    GRANT SELECT, INSERT, DELETE ON task_after TO {APP_ROLE};
    GRANT SELECT, INSERT ON requests, joins TO {APP_ROLE};
    GRANT SELECT, INSERT ON receipts TO {APP_ROLE};
    REVOKE UPDATE, DELETE, TRUNCATE ON events FROM {APP_ROLE};
    REVOKE DELETE, TRUNCATE ON sessions, goals, tasks FROM {APP_ROLE};
  END IF;
END $$;
"""


def newer_schema(found: int) -> StorageError:
    return StorageError(
        f"This database was written by a newer np (schema {found}; this np knows "
        f"{SCHEMA_VERSION}). Upgrade np to use it; the database was left untouched.",
        field="db",
        cause="newer_schema",
        schema_version=found,
        supported=SCHEMA_VERSION,
    )


def older_schema(found: int) -> StorageError:
    said = (
        "This shared database has no np tables yet (an empty database); they must be created first"
        if found == 0
        else f"This shared database has np's tables of an older np (schema {found}; this np "
        f"needs {SCHEMA_VERSION}); they must be migrated first"
    )
    return StorageError(
        f"{said}: np never changes a shared database's tables by itself.",
        field="schema",
        schema_version=found,
        supported=SCHEMA_VERSION,
        cause="older_schema",
    )


def version(conn: psycopg.Connection[TupleRow]) -> int:
    """The schema version (0 for a database without np's tables). One query, one round
    trip; must not run inside a transaction (a missing table is an error, not a value)."""
    from psycopg import errors

    try:
        found = conn.execute("SELECT coalesce(max(schema_version), 0) FROM np_meta").fetchone()
    except errors.UndefinedTable:
        return 0
    return int(found[0]) if found is not None else 0


def _version_inside(conn: psycopg.Connection[TupleRow]) -> int:
    """:func:`version` inside a transaction, where a missing table must not be an error."""
    row = conn.execute("SELECT to_regclass('np_meta') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(schema_version), 0) FROM np_meta").fetchone()
    return int(found[0]) if found is not None else 0


def applied(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """Names of the applied migrations, in the order they were applied."""
    row = conn.execute("SELECT to_regclass('np_migrations') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return []
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM np_migrations WHERE migration_set = %s ORDER BY id",
            (MIGRATION_SET,),
        )
    ]


def migrate(conn: psycopg.Connection[TupleRow]) -> list[str]:
    """Apply every pending migration in one transaction; return the names applied.

    Takes ``pg_advisory_xact_lock`` first, so a racing ``np db migrate`` waits, then finds
    the work done. DDL is transactional on PostgreSQL: a failure leaves the database as it
    was. Raises :class:`~store.errors.StorageError` when the database is newer than this np.
    ``conn`` must be in autocommit mode (np's connections are).
    """
    done: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (MIGRATE_LOCK,))
        current = _version_inside(conn)
        if current > SCHEMA_VERSION:
            raise newer_schema(current)
        conn.execute(_BOOKKEEPING)
        already = set(applied(conn))
        for name, body in MIGRATIONS:
            if name in already:
                continue
            conn.execute(body)
            conn.execute(
                "INSERT INTO np_migrations (migration_set, name, applied_at) "
                "VALUES (%s, %s, clock_timestamp()::text)",
                (MIGRATION_SET, name),
            )
            done.append(name)
        conn.execute("DELETE FROM np_meta")
        conn.execute("INSERT INTO np_meta (schema_version) VALUES (%s)", (SCHEMA_VERSION,))
        conn.execute(_GRANTS)
    return done
