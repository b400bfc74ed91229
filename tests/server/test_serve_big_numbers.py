"""A whole number too big for the store (B8) is ``invalid_argument`` naming the field and
the allowed range, over a real ``np serve``; never -32603 with an OverflowError."""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_support import Shared, check_exc

pytestmark = pytest.mark.asyncio(loop_scope="module")

HUGE = 10**30
LARGEST = 2**53 - 1  # Number.MAX_SAFE_INTEGER


async def test_huge_limit_and_after_seq_are_invalid_arguments(
    shared: Shared, project: Path
) -> None:
    c, d = shared.client, str(project)
    await c.call("np.session.start", {"dir": d})
    cases = [
        ("np.events", {"dir": d, "limit": HUGE}, "limit", 1),
        ("np.events", {"dir": d, "after_seq": HUGE}, "after_seq", 0),
        ("np.events", {"dir": d, "limit": LARGEST + 1}, "limit", 1),
        ("np.session.list", {"limit": HUGE}, "limit", 1),
        ("np.session.list", {"limit": -(10**30)}, "limit", 1),
    ]
    for command, arg, field, minimum in cases:
        data = check_exc(await c.error(command, arg), 1007, "invalid_argument")
        assert data["field"] == field
        assert (data["minimum"], data["maximum"]) == (minimum, LARGEST)
    exc = await c.error("np.events", {"dir": d, "limit": HUGE})
    assert f"'limit' must be a whole number from 1 to {LARGEST}" in exc.message
    assert "-n" not in exc.message  # the JSON door names the field, not the CLI flag


async def test_the_largest_number_still_works(shared: Shared, project: Path) -> None:
    c, d = shared.client, str(project)
    await c.call("np.session.start", {"dir": d})
    events = await c.call("np.events", {"dir": d, "limit": LARGEST})
    assert [e["type"] for e in events["events"]] == ["session_started"]
    assert (await c.call("np.events", {"dir": d, "after_seq": LARGEST}))["events"] == []
    assert len((await c.call("np.session.list", {"limit": LARGEST}))["sessions"]) >= 1
