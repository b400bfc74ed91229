"""The data ``np m`` shows: one session's plan and events, kept current from the change feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from store import Event, Plan, Session, Store
from store.paths import canonical_dir, dir_key
from store.receipts import Receipt

if TYPE_CHECKING:
    from .view import Snapshot


ELSEWHERE_LIMIT = 20
RECEIPT_EVENTS = 200  # the newest events whose receipts np m shows
# The newest events the live monitor keeps (and can scroll through): its memory stays flat
# however long the log grows; the whole log is np export's.
LIVE_EVENT_LIMIT = 5000


# -- the data: one session's plan and events, kept current from the change feed -------------


class Watcher:
    """The session ``np m`` shows and its events, refreshed when the feed reports a commit.

    Without ``sid`` it follows the directory: the nearest active session at or above it
    (the parent walk), switching when a new one starts; an archived session stays on screen
    until then. With ``sid`` it shows that session, archived or not, and never switches.
    Events are append-only, so after the first load only the new ones are read.
    """

    def __init__(
        self, store: Store, directory: str, sid: str | None = None, recent: int | None = None
    ) -> None:
        """``recent``: read only the newest ``recent`` events (and the log's length): the
        one-shot view, whose memory then stays flat however long the log is."""
        self.store = store
        self.directory = canonical_dir(directory)
        self.sid = sid
        self.recent = recent
        self.plan: Plan | None = None
        self.events: list[Event] = []  # oldest first
        self.total: int | None = None  # the log's length, when only ``recent`` are read
        self.elsewhere: list[Session] = []
        self.receipts: dict[int, tuple[Receipt, ...]] = {}

    @property
    def last_seq(self) -> int:
        """The seq of the newest event read (0 when none)."""
        return self.events[-1].seq if self.events else 0

    @property
    def shown_sid(self) -> str | None:
        return self.plan.session.sid if self.plan else None

    def load(self) -> None:
        """Read everything afresh (the first frame)."""
        if self.sid is not None:
            self._show(self.store.session(self.sid).sid)
            return
        active = self.store.find_active(self.directory)
        if active is None:
            self.plan, self.events = None, []
            self._load_elsewhere()
        else:
            self._show(active.sid)

    def _show(self, sid: str) -> None:
        self.plan = self.store.plan(sid)
        if self.recent is None:
            self.events = self.store.events(sid)
        else:
            self.total = self.store.last_seq(sid)
            newest = self.store.events(
                sid, limit=self.recent, newest_first=True, before_seq=self.total + 1
            )
            self.events = newest[::-1]
        self.elsewhere = []

    def _load_elsewhere(self) -> None:
        self.elsewhere = [
            s
            for s in self.store.sessions("active", limit=ELSEWHERE_LIMIT)
            if s.dir != dir_key(self.directory)  # stored keys escape odd bytes and \\
        ]

    def _refresh_current(self) -> None:
        assert self.plan is not None
        sid = self.plan.session.sid
        last = self.events[-1].seq if self.events else 0
        self.plan, new = self.store.plan_and_events(sid, last)  # one snapshot, one trip
        self.events += new
        if self.recent is not None:
            self.total = max(self.total or 0, self.events[-1].seq if self.events else 0)
            del self.events[: -self.recent]

    def apply(self, touched: set[str]) -> bool:
        """Bring the data up to date after commits to the sessions ``touched``; say whether
        anything on screen may have changed. A connection found cut (a PostgreSQL restart)
        is reopened and the reads run once more: they only read, and assign when done."""
        try:
            return self._apply(touched)
        except Exception as exc:
            if not getattr(exc, "retry_safe", False):
                raise
            return self._apply(touched)

    def _apply(self, touched: set[str]) -> bool:
        if not touched:
            return False
        current = self.shown_sid
        # Following the folder: another session may be the nearest active one now; only
        # the commits of another session (one started, joined) or the shown one's archiving
        # can make it so, so a commit to the shown session alone costs no lookup.
        if self.sid is None and (current is None or touched - {current}):
            active = self.store.find_active(self.directory)
            if active is not None and active.sid != current:
                self._show(active.sid)
                return True
            if current is None:
                self._load_elsewhere()
                return True
        if current is not None and current in touched:
            self._refresh_current()
            assert self.plan is not None
            if self.sid is None and not self.plan.session.active:
                active = self.store.find_active(self.directory)  # archived: one nearer?
                if active is not None:
                    self._show(active.sid)
            return True
        return False

    def refresh_receipts(self) -> bool:
        """Read the receipts of the newest :data:`RECEIPT_EVENTS` events again (a read
        marks them: no event says so, so the screen asks about once a second); say whether
        they changed."""
        if self.plan is None:
            changed = bool(self.receipts)
            self.receipts = {}
            return changed
        found = self.store.receipts(self.plan.session.sid, self.events[-RECEIPT_EVENTS:])
        fresh = {seq: tuple(r) for seq, r in found.items()}
        if fresh == self.receipts:
            return False
        self.receipts = fresh
        return True

    def snapshot(self) -> Snapshot:
        from .view import Snapshot

        return Snapshot(
            directory=self.directory,
            plan=self.plan,
            events=tuple(reversed(self.events)),
            elsewhere=tuple(self.elsewhere),
            pinned=self.sid is not None,
            receipts=dict(self.receipts),
            total=self.total,
        )
