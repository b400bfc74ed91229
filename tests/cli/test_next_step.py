"""Every CLI error says what to do next in the CLI's own terms, measured the way a new user
meets them; and the small truths the operator relies on (np a twice, np log's last line,
np s in a subdirectory, np export -o without --force, the Markdown export is CommonMark)."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from tests.conftest import NpRunner


@pytest.fixture
def tasks(run_np: NpRunner) -> list[str]:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "G", "-d", "D").code == 0
    return list(run_np("t", "a", "-t", "a", "-t", "b", "--json").json()["added"])


def err(run_np: NpRunner, *args: str, code: int = 2) -> str:
    r = run_np(*args)
    assert r.code == code, r
    assert r.out == "" and r.err.startswith("np: ") and r.err.count("\n") == 1, r
    return r.err[4:].strip()


def test_each_usage_error_names_the_flag_or_help_to_use(
    run_np: NpRunner, tasks: list[str], tmp_path: Path
) -> None:
    first = tasks[0]
    assert err(run_np, "t", "a", "Write the tests") == (
        "Unexpected word 'Write the tests': give a title with -t (np t a -t \"Write the tests\")."
    )
    assert err(run_np, "t", "u", first, "-s", "done") == (
        f"Unexpected word '{first}': name the task with -i (np t u -i {first} -s <status>)."
    )
    assert err(run_np, "t", "u", "-i", f"{first},{tasks[1]}", "-s", "done") == (
        f"One id per -i: repeat -i for several (-i {first} -i {tasks[1]})."
    )
    assert err(run_np, "t", "a", "-x") == (
        "Unknown option -x; `np t a --help` lists the options it takes."
    )
    assert err(run_np, "-x") == "Unknown option -x; `np --help` lists the commands and options."
    assert err(run_np, "g", "s", "-d", "x") == 'The title is required. Give it with -t "<title>".'
    assert (
        err(run_np, "t", "e", "-t", "x", "-r", "y") == "The id is required. Give it with -i <id>."
    )

    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    missing = tmp_path / "nowhere"
    for verb in (["s"], ["p"], ["t", "a", "-t", "x"], ["log"], ["m"]):
        assert err(run_np, "-C", str(a_file), *verb) == (
            f"-C {a_file}: that path is a file, not a directory."
        )
        assert err(run_np, *verb, "-C", str(missing)) == (
            f"-C {missing}: no such directory; give an existing one."
        )


def test_help_and_long_and_short_words_mix(run_np: NpRunner, tasks: list[str]) -> None:
    usage = run_np("help", "t", "a")
    assert usage.code == 0 and usage.out.startswith("Usage: np t a -t TITLE")
    for words in (["t", "add"], ["task", "a"], ["tasks", "add"], ["task", "add"]):
        assert run_np("help", *words).out == usage.out
        assert run_np(*words, "--help").out == usage.out
    r = run_np("task", "a", "-t", "long and short")
    assert r.code == 0 and "long and short" in r.out
    assert run_np("t", "update", "-i", tasks[0], "-s", "done").code == 0
    assert run_np("goal").out.startswith("Goal: G")
    top = run_np("--help").out
    assert run_np("help").out == top
    for long_form in ("np start", "np resume", "np goal set", "np task add", "np task update"):
        assert long_form in top, long_form


def test_small_truths(run_np: NpRunner, tasks: list[str], workdir: Path) -> None:
    # np export -o does not overwrite a file without --force, like np backup.
    out = workdir / "plan.md"
    out.write_text("keep me")
    r = run_np("export", "-o", str(out))
    assert r.code == 2 and "already exists; add --force" in r.err
    assert out.read_text() == "keep me"
    assert run_np("export", "-o", str(out), "--force").code == 0
    assert out.read_text().startswith("# G")
    assert run_np("export", "-o", str(workdir / "new.md")).code == 0

    # np a twice succeeds, and says the session was already archived.
    first = run_np("a")
    assert first.code == 0 and "is archived" in first.out
    again = run_np("a")
    assert again.code == 0 and "was already archived; nothing changed" in again.out
    assert run_np("a", "--json").json()["already_archived"] is True
    # A new session here is possible again, and np a archives it as usual.
    assert run_np("s").code == 0
    assert run_np("a", "--json").json()["already_archived"] is False


def test_the_markdown_export_is_one_commonmark_list_of_events(
    run_np: NpRunner, tasks: list[str]
) -> None:
    for n in range(12):  # past event #10, where the old ordered list fell apart
        run_np("t", "a", "-t", f"task `{n}` *x*", "-d", f"- bullet {n}\n\n  more")
    run_np("t", "u", "-i", tasks[0], "-s", "failed", "-r", "the `build` broke\nbadly")
    md = run_np("export").out
    events = run_np("log", "-n", "100", "--json").json()["events"]

    tokens = MarkdownIt("commonmark").parse(md)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[-2:] == ["Tasks", "Event log"]
    start = next(i for i, t in enumerate(tokens) if t.type == "inline" and t.content == "Event log")
    log = tokens[start + 2 :]
    assert log[0].type == "bullet_list_open"
    # One top-level list whose items are the events, in order, each with its sub-list.
    items = [t for t in log if t.type == "list_item_open" and t.level == 1]
    assert len(items) == len(events)
    assert [t for t in log if t.type == "bullet_list_open" and t.level == 0] == [log[0]]
    assert log[-1].type == "bullet_list_close" and log[-1].level == 0
    inline = [t.content for t in log if t.type == "inline"]
    assert inline[0].startswith("**#1**")
    assert "Reason: the \\`build\\` broke badly" in inline  # a reason's backticks are text
    assert "By: agent" in inline


def test_output_stays_small_and_one_task_shows_whole(run_np: NpRunner, tasks: list[str]) -> None:
    long = "\n".join(f"line {n}: " + "word " * 30 for n in range(122))  # about 19,500 chars
    assert len(long) > 19_000
    added = run_np("t", "a", "-t", "Big one", "-d", long, "--json").json()["added"][0]
    for status in ("in_progress", "pending", "in_progress"):
        out = run_np("t", "u", "-i", added, "-s", status).out
        assert len(out.encode()) < 1_000, out
        assert f"    … (all of it: np t -i {added})" in out
    listing = run_np("t").out
    assert len(listing.encode()) < 1_500 and f"np t -i {added}" in listing
    whole = run_np("t", "-i", added)
    assert whole.code == 0 and long.replace("\n", "\n    ") in whole.out
    assert "all of it" not in whole.out
    both = run_np("t", "-i", tasks[0], "-i", added, "--json").json()["tasks"]
    assert [t["id"] for t in both] == [tasks[0], added] and both[1]["description"] == long
    missing = run_np("t", "-i", "zzzzzz")
    assert missing.code == 1 and "zzzzzz" in missing.err and "np t" in missing.err
    # A long reason is shortened in the plan, kept whole in JSON and in np t -i.
    why = "because " + "the build server keeps timing out " * 20
    run_np("t", "u", "-i", tasks[0], "-s", "failed", "-r", why)
    resumed = run_np("r").out
    line = next(x for x in resumed.splitlines() if x.startswith("    reason: because"))
    assert len(line) <= 4 + 8 + 160 and line.endswith("…")
    assert run_np("t", "-i", tasks[0], "--json").json()["tasks"][0]["reason"] == why
