"""The JSON shapes the store itself records (event payloads) and the doors send (SPEC §5),
as ``TypedDict`` s: a session, a goal, a task's own fields.

Defined once, here: ``store.rows`` builds them for the event log, ``server.commands.wire``
for results (``server.commands.shapes`` adds what results carry besides). Imported only
under ``TYPE_CHECKING``, so defining the classes costs a CLI write nothing. Times are
RFC 3339 UTC strings; statuses and states their snake_case names.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class SessionJSON(TypedDict):
    sid: str
    dir: str
    state: str  # "active" | "archived"
    created_at: str
    last_updated_at: str
    archived_at: str | None
    scope: NotRequired[str]  # PostgreSQL only: the host name or NP_SCOPE it was started in


class GoalJSON(TypedDict):
    title: str
    description: str
    updated_at: str


class TaskFieldsJSON(TypedDict):
    """A task's own fields: what a ``task_added`` event records (with ``created_seq``) and
    the first fields of every task a result carries."""

    id: str
    title: str
    description: str
    status: str  # pending | in_progress | completed | failed | cancelled
    created_at: str
    updated_at: str
