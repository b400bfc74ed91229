"""Any text at all, in any field a person writes: np stores it well-formed, or refuses it
as ``invalid_argument``/``reason_required`` naming the field — never another exception
(issue 11 §1, the kind beyond the examples). A real database file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import InvalidArgument, NewTask, ReasonRequired, StatusChange, Store
from store.text import first_ill_formed, is_blank, shorten

# every code point, surrogates included (what JSON "\ud83d" or PEP 383 argv produce)
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)


def _well_formed(text: str) -> bool:
    return first_ill_formed(text) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=ANY_TEXT, description=ANY_TEXT, reason=ANY_TEXT)
def test_any_text_is_stored_well_formed_or_refused_naming_the_field(
    tmp_path_factory: object, title: str, description: str, reason: str
) -> None:
    folder: Path = tmp_path_factory.mktemp("t")  # type: ignore[attr-defined]
    with Store(str(folder / "np.db")) as store:
        with store.transaction("test") as unit:
            sid = unit.start_session(str(folder)).sid
        try:
            with store.transaction("test") as unit:
                (task,) = unit.add_tasks(sid, [NewTask(title, description)])
            stored = store.tasks(sid)[0]
            assert _well_formed(stored.title) and _well_formed(stored.description)
            assert not is_blank(stored.title)
            assert "\r" not in stored.description
        except InvalidArgument as exc:
            assert exc.data["field"] in ("title", "description"), exc.data
            return
        try:
            with store.transaction("test") as unit:
                unit.set_statuses(sid, [StatusChange(task.id, "failed", reason)])
            event = store.events(sid)[-1]
            assert event.reason is not None and _well_formed(event.reason)
        except (InvalidArgument, ReasonRequired) as exc:
            assert exc.data["field"] == "reason", exc.data


@given(text=st.text(max_size=60), limit=st.integers(min_value=2, max_value=30))
def test_shorten_stays_within_the_limit_and_keeps_a_prefix(text: str, limit: int) -> None:
    out = shorten(text, limit)
    assert len(out) <= limit
    if out != text:
        assert out.endswith("…") and text.startswith(out[:-1])
