"""The CLI's flags and words, through the real ``np``: a huge number is a usage error
naming the flag and its range (B8), a flag that takes a value takes the next word whatever
it looks like (B9), a batch over the limit names the CLI's flag (B14), every error says its
next step once (P1, P3), and paths with a byte that is not UTF-8 show as ``\\xNN`` (P2)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import NpRunner

LARGEST = 2**53 - 1  # Number.MAX_SAFE_INTEGER


@pytest.fixture
def task(run_np: NpRunner) -> str:
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "G", "-d", "D").code == 0
    return str(run_np("t", "a", "-t", "A", "--json").json()["added"][0])


def usage_error(run_np: NpRunner, *args: str) -> str:
    r = run_np(*args)
    assert r.code == 2, r
    assert r.out == "" and r.err.startswith("np: ") and r.err.count("\n") == 1, r
    assert "internal error" not in r.err
    return r.err[4:].strip()


def test_a_huge_or_odd_limit_is_a_usage_error_naming_n_and_its_range(
    run_np: NpRunner, task: str
) -> None:
    for value in ("99999999999999999999999", str(LARGEST + 1), "0", "-1", "²", "1e3", " 5"):
        for verb in (["log"], ["ls"]):
            message = usage_error(run_np, *verb, "-n", value)
            assert message == f"-n takes a whole number from 1 to {LARGEST}.", value
    r = run_np("--json", "log", "-n", "99999999999999999999999")
    assert r.code == 2 and r.json()["error"]["kind"] == "invalid_argument", r
    assert run_np("log", "-n", str(LARGEST)).code == 0
    assert run_np("ls", "--limit", str(LARGEST)).code == 0


def test_an_empty_id_status_session_or_format_says_what_to_give(
    run_np: NpRunner, task: str
) -> None:
    """Issue 18: `-i ""` printed "No task with id  in this session"; `--session ""` acted on
    the current session; `-s ""` listed every task; `--format ""` exported Markdown."""
    before = run_np("log", "--json").json()["events"]
    cases = {
        ("t", "-i", ""): "-i needs a task id; `np t` lists them.",
        ("t", "u", "-i", " ", "-s", "completed"): "-i needs a task id; `np t` lists them.",
        ("t", "e", "-i", "", "-t", "x"): "-i needs a task id; `np t` lists them.",
        ("t", "-s", ""): "-s needs a status: pending, in_progress, completed, failed or cancelled.",
        ("p", "--session", ""): "--session needs a session id; `np ls --all` lists them.",
        ("a", "--session", ""): "--session needs a session id; `np ls --all` lists them.",
        (
            "mv",
            "--session",
            "",
            "-r",
            "x",
        ): "--session needs a session id; `np ls --all` lists them.",
        ("export", "--format", ""): "--format needs a format: markdown or json.",
    }
    for args, message in cases.items():
        assert usage_error(run_np, *args) == message, args
    r = run_np("--json", "t", "-i", "")
    assert r.code == 2 and r.json()["error"]["kind"] == "invalid_argument", r
    assert run_np("log", "--json").json()["events"] == before  # nothing changed


@pytest.mark.parametrize("value", ["--json", "-C", "--db", "-h", "--help", "-t", "--all", "-"])
def test_a_value_that_looks_like_an_option_is_the_value(
    run_np: NpRunner, task: str, value: str
) -> None:
    r = run_np("t", "a", "-t", value, "-d", value)
    assert r.code == 0, r
    assert not r.out.startswith("{")  # --json as a title does not switch on JSON
    added = run_np("t", "--json").json()["tasks"][-1]
    assert (added["title"], added["description"]) == (value, value)
    r = run_np("t", "u", "-i", task, "-s", "failed", "-r", value)
    assert r.code == 0, r
    assert not r.out.startswith("{")
    assert run_np("t", "-i", task, "--json").json()["tasks"][0]["reason"] == value
    assert run_np("t", "u", "-i", task, "-s", "pending", "-r", "again").code == 0


def test_a_flag_at_the_end_still_needs_its_value(run_np: NpRunner, task: str) -> None:
    assert usage_error(run_np, "t", "a", "-t") == "-t needs a value."
    assert usage_error(run_np, "t", "u", "-i", task, "-s", "failed", "-r") == "-r needs a value."


def test_a_batch_over_the_limit_names_the_cli_flag(run_np: NpRunner, task: str) -> None:
    titles = [a for n in range(501) for a in ("-t", f"t{n}")]
    assert usage_error(run_np, "t", "a", *titles) == (
        "501 tasks in one np t a; at most 500 -t per call: split them over several calls."
    )
    pairs = [a for n in range(501) for a in ("-i", f"x{n}", "-s", "done")]
    assert usage_error(run_np, "t", "u", *pairs) == (
        "501 updates in one np t u; at most 500 -i per call: split them over several calls."
    )
    r = run_np("--json", "t", "a", *titles)
    error = r.json()["error"]
    assert "The tasks has" not in error["message"] and "-t per call" in error["message"]
    assert (error["data"]["field"], error["data"]["length"]) == ("tasks", 501)


def test_busy_says_its_next_step_once(run_np: NpRunner, db_path: Path, task: str) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        r = run_np("t", "a", "-t", "busy", env={"NP_BUSY_TIMEOUT": "0"})
        j = run_np("--json", "t", "a", "-t", "busy", env={"NP_BUSY_TIMEOUT": "0"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.code == 3, r
    for message in (r.err, j.json()["error"]["message"]):
        assert message.lower().count("again") == 1, message


def test_no_error_says_its_next_step_twice(run_np: NpRunner, task: str, tmp_path: Path) -> None:
    if os.path.exists("/dev/full"):
        message = usage_error(run_np, "export", "-o", "/dev/full", "--force")
        assert message.count("-o") == 1, message
    r = run_np("--db", str(tmp_path), "p")
    assert r.code == 3, r
    assert r.err.count("give a file path") + r.err.count("Point --db") == 1, r
    r = run_np("p", env={"NP_BUSY_TIMEOUT": "\udcff"})
    assert r.code == 2, r
    assert "it is '\\xff'" in r.err and "\\\\" not in r.err, r


def test_paths_that_are_not_utf8_show_as_xnn(run_np: NpRunner, task: str, tmp_path: Path) -> None:
    backup = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"b\xff.db"))
    r = run_np("backup", backup)
    assert r.code == 0, r
    assert "b\\xff.db" in r.out and "\\udcff" not in r.out, r
    assert " 1 session," in r.out or " 1 session)" in r.out or "1 session;" in r.out, r
    j = run_np("--json", "backup", backup + "2")
    assert j.json()["backup"]["path"].endswith("b\\xff.db2"), j
    export = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"e\xff.md"))
    r = run_np("export", "-o", export)
    assert r.code == 0, r
    assert "e\\xff.md" in r.err and "\\udcff" not in r.err, r
    r = run_np("--db", backup, "doctor")
    assert "b\\xff.db" in r.out and "\\udcff" not in r.out, r
    j = run_np("--json", "--db", backup, "doctor")
    assert j.json()["path"].endswith("b\\xff.db"), j


def test_error_json_holds_no_lone_surrogate(run_np: NpRunner, tmp_path: Path) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"d\xff")
    os.mkdir(folder)
    r = run_np("--json", "--db", os.fsdecode(folder), "p")
    assert r.code == 3, r
    assert "\\udcff" not in r.out, r
    assert r.json()["error"]["data"]["path"].endswith("d\\xff"), r
