"""The VS Code extension's wire types (``editors/vscode/src/model.ts``) stay level with what
the server sends: each interface names exactly the fields of its shape, required where the
server always sends them (``server.commands.shapes``, ``store.shapes`` and the values'
``to_dict``). A field added to a result without its type in the extension fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NotRequired, get_origin, get_type_hints

import pytest

from server.commands import shapes, wire
from store import Event, EventType
from store.receipts import Receipt
from store.types import Ask

MODEL = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "src" / "model.ts"


def interface(name: str) -> dict[str, bool]:
    """The fields of TypeScript interface ``name``: field → required (no ``?``)."""
    text = MODEL.read_text(encoding="utf-8")
    found = re.search(
        rf"^export interface {name}(?: extends \w+)? \{{\n(.*?)^\}}", text, re.M | re.S
    )
    assert found, f"no interface {name} in model.ts"
    fields = {}
    for line in found.group(1).splitlines():
        field = re.match(r"\s+(\w+)(\??):", line)
        if field:
            fields[field.group(1)] = field.group(2) != "?"
    return fields


def typed_dict(shape: Any) -> dict[str, bool]:
    """The fields of a ``TypedDict``: field → required (not ``NotRequired``). Read from the
    hints: the modules' string annotations hide ``NotRequired`` from ``__required_keys__``."""
    hints = get_type_hints(shape, include_extras=True)
    return {name: get_origin(hint) is not NotRequired for name, hint in hints.items()}


# What the extension types differently, on purpose: the plan's text is absent only from
# the JSON export, which the extension reads as a string (ExportResult), never as a Plan.
PLAN_TEXT_ALWAYS = {"text": True}


@pytest.mark.parametrize(
    ("ts", "shape"),
    [
        ("SessionInfo", shapes.SessionJSON),
        ("Goal", shapes.GoalJSON),
        ("Task", shapes.TaskJSON),
        ("NpEvent", shapes.EventJSON),
        ("Change", shapes.ChangeJSON),
    ],
)
def test_each_interface_names_its_shapes_fields(ts: str, shape: Any) -> None:
    assert interface(ts) == typed_dict(shape)


def test_the_plan_carries_every_field_of_a_plan_result() -> None:
    fields = interface("Plan")
    sent = {**typed_dict(shapes.PlanJSON), **PLAN_TEXT_ALWAYS}
    assert {k: v for k, v in fields.items() if k in sent} == sent
    # and what a write's result adds: a replay of an idempotency key
    assert set(fields) - set(sent) == {"replayed", "first_at"}


def test_answers_asks_and_receipts_name_what_the_server_builds() -> None:
    event = Event(
        "s",
        3,
        "2026-01-02T03:04:05Z",
        EventType.TASK_ANSWERED,
        None,
        "np t answer",
        {"task_id": "a1", "title": "t", "question": "q?", "answer": "yes", "choice": True},
        "ana",
    )
    assert interface("Answer") == dict.fromkeys(wire.answer_json(event), True)
    ask = Ask("q?", ("yes", "no"), "agent", "2026-01-02T03:04:05Z", 2)
    assert interface("Ask") == dict.fromkeys(ask.to_dict(), True)
    receipt = Receipt("ana", True, None, None)
    assert interface("Receipt") == dict.fromkeys(receipt.to_dict(), True)
