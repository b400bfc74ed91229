"""A door that follows the change feed (``np serve``, ``np web``) always stops (issue 20).

``np serve`` on PostgreSQL sometimes never exited after SIGTERM/SIGINT: every request was
answered, but the follower's task swallowed the cancel that stops it. It waited for a wake-up
with ``asyncio.wait_for``, which on Python 3.11 returns normally when the task is cancelled in
the same loop turn as the awaited event is set (CPython gh-86296) — and the feed's socket (a
NOTIFY from the commit that was just answered) wakes it exactly then. The loop went on
polling and the door waited for it forever.

Here the wake-up and the stop are made to meet at every loop turn the race can take, on a
real feed of both engines: each stop ends.
"""

from __future__ import annotations

import asyncio

import pytest

from server.commands.follow import Follower
from store import Store

TURNS = range(8)  # loop turns between the wake-up and the stop: covers where the race lands


def _run(coro: object) -> None:
    # Not asyncio.run: it would wait for a follower that never stops, and hang the test
    # instead of failing it.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)  # type: ignore[arg-type]
    finally:
        loop.close()


@pytest.mark.parametrize("turns", TURNS)
def test_stop_ends_the_follower_even_when_a_wake_up_lands_with_it(np_db: str, turns: int) -> None:
    Store(np_db).close()  # a real, migrated database
    ended: list[bool] = []

    async def main() -> None:
        follower = Follower(np_db, lambda changes: None)
        follower.start()
        # Its first step (a poll, synchronous on this thread) runs at the loop's next turn,
        # then it waits for a wake-up.
        await asyncio.sleep(0.01)
        task = follower._task
        assert task is not None
        follower.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        limit = asyncio.timeout(10)
        try:
            async with limit:
                await follower.stop()
        finally:
            ended.append(task.done() and not limit.expired())

    _run(main())
    assert ended == [True], f"the follower kept running ({turns} loop turns after the wake-up)"
