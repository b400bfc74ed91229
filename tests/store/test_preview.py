"""Long plans: the bounded preview the CLI prints equals the full plan's text, and nothing
is silently left out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.text.render import plan_text
from store import NewTask, Status, StatusChange, Store
from store.types import PREVIEW_LIMIT, preview_ids


@pytest.fixture
def store(np_db: str) -> Iterator[Store]:
    """A store on each engine: every test that uses it runs on SQLite and PostgreSQL."""
    with Store(np_db) as s:
        yield s


def seed(store: Store, workdir: Path, n: int) -> tuple[str, list[str]]:
    with store.transaction("np s") as unit:
        sid = unit.start_session(str(workdir)).sid
    with store.transaction("np g s") as unit:
        unit.set_goal(sid, "Big", "many tasks")
    ids: list[str] = []
    for start in range(0, n, 500):
        with store.transaction("np t a") as unit:
            batch = [NewTask(f"task {i}", f"d{i}") for i in range(start, min(n, start + 500))]
            ids += [t.id for t in unit.add_tasks(sid, batch)]
    return sid, ids


def test_short_plans_are_shown_whole(store: Store, workdir: Path) -> None:
    sid, _ = seed(store, workdir, PREVIEW_LIMIT)
    preview = store.plan_preview(sid)
    assert preview.complete
    assert preview == store.plan(sid)


def test_long_plan_preview_matches_the_full_text_and_counts_everything(
    store: Store, workdir: Path
) -> None:
    sid, ids = seed(store, workdir, 1200)
    changes = [StatusChange(i, Status.COMPLETED) for i in ids[:900]]
    changes += [StatusChange(ids[950], Status.IN_PROGRESS)]
    changes += [StatusChange(ids[960], Status.FAILED, "broke")]
    changes += [StatusChange(ids[970], Status.CANCELLED, "dup")]
    for start in range(0, len(changes), 500):
        with store.transaction("np t u") as unit:
            unit.set_statuses(sid, changes[start : start + 500])

    full = store.plan(sid)
    preview = store.plan_preview(sid)
    assert not preview.complete
    assert (
        preview.counts()
        == full.counts()
        == {
            "pending": 297,
            "in_progress": 1,
            "completed": 900,
            "failed": 1,
            "cancelled": 1,
        }
    )
    text = plan_text(full)
    assert plan_text(preview) == text

    lines = text.splitlines()
    assert len([line for line in lines if line[:1] in "☐⟳☑☒⊗"]) <= PREVIEW_LIMIT + 5
    assert f"⟳ {ids[950]} task 950" in lines
    assert f"☒ {ids[960]} task 960" in lines
    assert f"⊗ {ids[970]} task 970" in lines
    assert f"☐ {ids[900]} task 900" in lines  # the next pending work comes first
    assert "☑ … 900 more completed (list them: np t -s completed)" in lines
    shown_pending = sum(1 for line in lines if line.startswith("☐ ") and " … " not in line)
    assert f"☐ … {297 - shown_pending:,} more pending (list them: np t -s pending)" in lines
    assert lines[-1] == "Legend: ☐ pending ⟳ in progress ☑ completed ☒ failed ⊗ cancelled"
    # Each door names the call that lists the rest in its own terms.
    json_lines = plan_text(full, door="json").splitlines()
    assert '☑ … 900 more completed (list them: np.task.list {"status": "completed"})' in (
        json_lines
    )
    mcp_lines = plan_text(full, door="mcp").splitlines()
    assert '☑ … 900 more completed (list them: np_plan(status=["completed"]))' in mcp_lines


def test_preview_rule() -> None:
    tasks = [(f"p{i}", Status.PENDING) for i in range(5)]
    assert preview_ids(tasks, limit=5) is None
    many = [(f"c{i}", Status.COMPLETED) for i in range(50)] + tasks
    many.append(("f", Status.FAILED))
    picked = preview_ids(many, limit=20)
    assert picked == {"f", *(f"p{i}" for i in range(5))}
