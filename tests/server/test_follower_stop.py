"""The change feed's follower (np serve, np web) stops when asked, whatever else is happening.

On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives while the future it
waits for completes: a follower stopped by cancelling its task, in the same tick as a commit
woke it (a PostgreSQL notification, or a poll), went on polling for ever and ``np serve`` never
exited after ``exit`` (killed with -9 in tests/reliability/test_concurrent_writers.py). Here
the wake and the stop come in the same tick, as they did there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.commands.follow import Follower
from store import Store


def test_a_stop_in_the_same_tick_as_a_wake_ends_the_follower(tmp_path: Path) -> None:
    db = str(tmp_path / "np.db")
    Store(db).close()
    seen: list[object] = []

    async def stopped(follower: Follower) -> bool:
        """Whether stop() ended by itself (a bound on a hang: nothing cancels it)."""
        stopping = asyncio.ensure_future(follower.stop())
        done, _ = await asyncio.wait({stopping}, timeout=10)
        if not done:
            stopping.cancel()
        return bool(done)

    async def run() -> list[bool]:
        follower = Follower(db, seen.append)
        ended = []
        for _ in range(3):
            follower.start()
            await asyncio.sleep(0.05)  # it waits for the next change
            follower.wake()  # a commit's notification, in the same tick as the stop
            ended.append(await stopped(follower))
        return ended

    assert asyncio.run(run()) == [True, True, True]
