"""The schema migrations: sqlite-utils ``@migrations()`` functions, and nothing else.

The runner is :func:`store.sqlite.schema.migrate`, which imports this module only when a
database is older than the code (new files included), so the CLI's everyday path never
pays for sqlite-utils. This module imports nothing from ``store``.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("np")


@migrations()
def m001_initial(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE sessions (
            sid TEXT PRIMARY KEY CHECK (length(sid) = 26),
            dir TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'archived')),
            created_at TEXT NOT NULL,
            last_updated_at TEXT NOT NULL,
            archived_at TEXT,
            CHECK ((state = 'archived') = (archived_at IS NOT NULL))
        ) STRICT
        """
    )
    # One active session per directory, enforced by the database itself.
    db.execute(
        "CREATE UNIQUE INDEX sessions_one_active_per_dir ON sessions(dir) WHERE state = 'active'"
    )
    db.execute(
        """
        CREATE TABLE goals (
            sid TEXT PRIMARY KEY REFERENCES sessions(sid),
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            description TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) STRICT
        """
    )
    db.execute(
        """
        CREATE TABLE tasks (
            sid TEXT NOT NULL REFERENCES sessions(sid),
            id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 8 AND id = lower(id)),
            title TEXT NOT NULL CHECK (length(trim(title)) > 0),
            description TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            created_seq INTEGER NOT NULL,
            PRIMARY KEY (sid, id),
            UNIQUE (sid, created_seq)
        ) STRICT
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,  -- grows in commit order: rows are never deleted
            sid TEXT NOT NULL REFERENCES sessions(sid),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            at TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('session_started', 'goal_set', 'goal_updated',
                'task_added', 'task_updated', 'task_status_changed', 'session_archived')),
            reason TEXT,
            cmd TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            UNIQUE (sid, seq)
        ) STRICT
        """
    )
    # The log is append-only and gapless, and tasks are never deleted: the database refuses.
    _event_triggers(db)
    db.execute(
        """
        CREATE TRIGGER tasks_no_delete BEFORE DELETE ON tasks
        BEGIN SELECT RAISE(ABORT, 'np: tasks are never deleted; cancel them with a reason'); END
        """
    )


@migrations()
def m002_actors_seen_and_task_reasons(db: Database) -> None:
    """Who made each event, what each actor has seen, and why a task failed or was cancelled.

    * ``events.actor``: the CLI's agent (or ``NP_ACTOR``/``--actor``), a JSON-RPC client's
      ``clientInfo.name``, an MCP client's name. Events written before this migration keep
      ``NULL``: readers show them without an actor.
    * ``seen``: per session and actor, the newest event seq that actor has seen (set by its
      own writes, in the same transaction, and by its reads). Its own table, so a backend
      can port it as is.
    * ``tasks.reason``: the reason of the task's current failed/cancelled status (``NULL``
      otherwise), backfilled from the log.
    """
    db.execute("ALTER TABLE events ADD COLUMN actor TEXT")
    db.execute(
        """
        CREATE TABLE seen (
            sid TEXT NOT NULL REFERENCES sessions(sid),
            actor TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            PRIMARY KEY (sid, actor)
        ) STRICT
        """
    )
    db.execute("ALTER TABLE tasks ADD COLUMN reason TEXT")
    db.execute(
        """
        UPDATE tasks SET reason = (
            SELECT e.reason FROM events e
            WHERE e.sid = tasks.sid AND e.type = 'task_status_changed'
              AND json_extract(e.payload, '$.task_id') = tasks.id
            ORDER BY e.seq DESC LIMIT 1
        )
        WHERE status IN ('failed', 'cancelled')
        """
    )


# The event types a database of this schema takes (m003 added session_moved).
_EVENT_TYPES_3 = (
    "'session_started', 'goal_set', 'goal_updated', 'task_added', 'task_updated', "
    "'task_status_changed', 'session_archived', 'session_moved'"
)


@migrations()
def m003_directory_identity_and_moves(db: Database) -> None:
    """Sessions remember their directory's identity (``st_dev``, ``st_ino``), so a project
    reached by another path (a bind mount) or renamed is still recognised; and the log
    takes ``session_moved`` (the operator moved a session to its folder's new path).

    SQLite cannot change a CHECK constraint in place: the events table is rebuilt, rows
    (and their rowids, which the change feed follows) copied as they are, its triggers
    recreated. Existing active sessions get their directory's identity when it exists.
    """
    import os

    db.execute("ALTER TABLE sessions ADD COLUMN dir_dev INTEGER")
    db.execute("ALTER TABLE sessions ADD COLUMN dir_ino INTEGER")
    db.execute("CREATE INDEX sessions_dir_identity ON sessions(dir_ino, dir_dev)")
    for sid, directory in db.execute("SELECT sid, dir FROM sessions WHERE state = 'active'"):
        try:
            st = os.stat(directory)
        except (OSError, ValueError):
            continue
        db.execute(
            "UPDATE sessions SET dir_dev = ?, dir_ino = ? WHERE sid = ?",
            (st.st_dev, st.st_ino, sid),
        )
    db.execute(
        f"""
        CREATE TABLE events_m003 (
            id INTEGER PRIMARY KEY,  -- grows in commit order: rows are never deleted
            sid TEXT NOT NULL REFERENCES sessions(sid),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            at TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ({_EVENT_TYPES_3})),
            reason TEXT,
            cmd TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            actor TEXT,
            UNIQUE (sid, seq)
        ) STRICT
        """
    )
    db.execute(
        "INSERT INTO events_m003 SELECT id, sid, seq, at, type, reason, cmd, payload, actor "
        "FROM events ORDER BY id"
    )
    db.execute("DROP TABLE events")  # its triggers go with it (no trigger fires on DROP)
    db.execute("ALTER TABLE events_m003 RENAME TO events")
    _event_triggers(db)


def _event_triggers(db: Database) -> None:
    """The event log's triggers: made by m001, again by each migration that rebuilds it."""
    db.execute(
        """
        CREATE TRIGGER events_gapless BEFORE INSERT ON events
        WHEN NEW.seq != (SELECT coalesce(max(seq), 0) + 1 FROM events WHERE sid = NEW.sid)
        BEGIN SELECT RAISE(ABORT, 'np: event seq must follow the last one without a gap'); END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'np: the event log is append-only'); END
        """
    )
    db.execute(
        """
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'np: the event log is append-only'); END
        """
    )


@migrations()
def m004_session_scope(db: Database) -> None:
    # Sessions gain a scope: one active session per (scope, dir). SQLite's is always "";
    # on a shared PostgreSQL database it is the host name or NP_SCOPE (store/postgres/schema.py).
    db.execute("ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT ''")
    db.execute("DROP INDEX sessions_one_active_per_dir")
    db.execute(
        "CREATE UNIQUE INDEX sessions_one_active_per_scope_dir ON sessions(scope, dir) "
        "WHERE state = 'active'"
    )


# The event types a database of this schema takes (m005 added claims, dependencies, joins).
_EVENT_TYPES_5 = f"{_EVENT_TYPES_3}, 'task_claimed', 'task_after_changed', 'session_joined'"


@migrations()
def m005_claims_dependencies_keys_joins(db: Database) -> None:
    """Many agents on one plan (issue 21).

    * ``tasks.claimed_by`` / ``tasks.claim_expires_at``: who holds a task, until when.
    * ``task_after``: what each task waits for (its dependencies).
    * ``requests``: idempotency keys: per actor, the command a key was first used for and
      what it answered, so a retry writes nothing.
    * ``joins``: other folders (a linked git worktree, a clone elsewhere) that joined a
      session's plan; np finds that plan from them as from a parent folder.
    * the log takes ``task_claimed``, ``task_after_changed`` and ``session_joined`` (the
      events table is rebuilt as in m003: SQLite cannot change a CHECK in place).
    """
    db.execute("ALTER TABLE tasks ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE tasks ADD COLUMN claim_expires_at TEXT")
    db.execute(
        """
        CREATE TABLE task_after (
            sid TEXT NOT NULL REFERENCES sessions(sid),
            task_id TEXT NOT NULL,
            after_id TEXT NOT NULL,
            PRIMARY KEY (sid, task_id, after_id)
        ) STRICT
        """
    )
    db.execute(
        """
        CREATE TABLE requests (
            actor TEXT NOT NULL,
            key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
            command TEXT NOT NULL,
            args TEXT NOT NULL,
            sid TEXT,
            result TEXT NOT NULL CHECK (json_valid(result)),
            at TEXT NOT NULL,
            PRIMARY KEY (actor, key)
        ) STRICT
        """
    )
    db.execute(
        """
        CREATE TABLE joins (
            sid TEXT NOT NULL REFERENCES sessions(sid),
            scope TEXT NOT NULL DEFAULT '',
            dir TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (scope, dir, sid)
        ) STRICT
        """
    )
    db.execute(
        f"""
        CREATE TABLE events_m005 (
            id INTEGER PRIMARY KEY,  -- grows in commit order: rows are never deleted
            sid TEXT NOT NULL REFERENCES sessions(sid),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            at TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ({_EVENT_TYPES_5})),
            reason TEXT,
            cmd TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            actor TEXT,
            UNIQUE (sid, seq)
        ) STRICT
        """
    )
    db.execute(
        "INSERT INTO events_m005 SELECT id, sid, seq, at, type, reason, cmd, payload, actor "
        "FROM events ORDER BY id"
    )
    db.execute("DROP TABLE events")
    db.execute("ALTER TABLE events_m005 RENAME TO events")
    _event_triggers(db)


# The event types a database of this schema takes (m006 added the three of asks).
_EVENT_TYPES_6 = f"{_EVENT_TYPES_5}, 'task_asked', 'task_answered', 'task_ask_withdrawn'"


@migrations()
def m006_receipts_and_asks(db: Database) -> None:
    """Receipts and asks (issue 23).

    * ``receipts``: each time an actor's ``seen`` moved forward (its read or its write), the
      seq it reached and when: the first such row at or past an event's seq says when that
      actor saw it. Backfilled from ``seen`` with the time of the event seen (the earliest
      it can have been seen).
    * ``tasks.ask``: a task's open question (JSON: question, choices, by, at, seq), NULL
      when it has none.
    * the log takes ``task_asked``, ``task_answered`` and ``task_ask_withdrawn`` (the events
      table is rebuilt as in m003, rows and rowids kept).
    """
    db.execute(
        """
        CREATE TABLE receipts (
            sid TEXT NOT NULL REFERENCES sessions(sid),
            actor TEXT NOT NULL CHECK (length(actor) BETWEEN 1 AND 100),
            seq INTEGER NOT NULL CHECK (seq >= 0),
            at TEXT NOT NULL,
            PRIMARY KEY (sid, actor, seq)
        ) STRICT
        """
    )
    db.execute(
        "INSERT INTO receipts (sid, actor, seq, at) "
        "SELECT s.sid, s.actor, s.seq, coalesce((SELECT e.at FROM events e "
        "WHERE e.sid = s.sid AND e.seq = s.seq), "
        "(SELECT created_at FROM sessions WHERE sid = s.sid)) FROM seen s"
    )
    db.execute("ALTER TABLE tasks ADD COLUMN ask TEXT CHECK (ask IS NULL OR json_valid(ask))")
    db.execute(
        f"""
        CREATE TABLE events_m006 (
            id INTEGER PRIMARY KEY,  -- grows in commit order: rows are never deleted
            sid TEXT NOT NULL REFERENCES sessions(sid),
            seq INTEGER NOT NULL CHECK (seq >= 1),
            at TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ({_EVENT_TYPES_6})),
            reason TEXT,
            cmd TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            actor TEXT,
            UNIQUE (sid, seq)
        ) STRICT
        """
    )
    db.execute(
        "INSERT INTO events_m006 SELECT id, sid, seq, at, type, reason, cmd, payload, actor "
        "FROM events ORDER BY id"
    )
    db.execute("DROP TABLE events")
    db.execute("ALTER TABLE events_m006 RENAME TO events")
    _event_triggers(db)


@migrations()
def m007_claims_index(db: Database) -> None:
    """The claims an actor holds in a session, found without reading the session's tasks:
    every write of a claimant renews its leases, and a write must not scan the task table to
    learn that it holds none (nor meet a damaged task page it does not touch)."""
    db.execute("CREATE INDEX tasks_claims ON tasks(sid, claimed_by) WHERE claimed_by IS NOT NULL")
