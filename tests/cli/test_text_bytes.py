"""Text and bytes, wherever they come from (issue 11 §1): argv, directory names, ``--db``
paths and JSON strings may carry bytes or code points that are not clean UTF-8. np answers
each with a sentence naming the field and the character, or (for paths and recorded
command lines, which a person did not type as text) keeps working with ``\\xNN`` escapes.
Never "internal error"; every stored and printed text stays well-formed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.cli.test_errors import assert_clean_error, event_count
from tests.conftest import NpRunner
from tests.server.serve_support import RawServer, server_env

BAD_DIR = "p\udcff"  # a folder whose name holds the byte 0xFF (PEP 383 spelling)


def _all_text_well_formed(db: Path) -> None:
    """Every TEXT value in the database encodes as strict UTF-8."""
    conn = sqlite3.connect(db)
    conn.text_factory = bytes
    try:
        for table in ("sessions", "goals", "tasks", "events"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes):
                        value.decode("utf-8")  # raises on anything ill-formed
    finally:
        conn.close()


def test_a_directory_named_with_a_non_utf8_byte_holds_a_session(
    run_np: NpRunner, tmp_path: Path, db_path: Path
) -> None:
    folder = tmp_path / BAD_DIR
    (folder / "sub").mkdir(parents=True)
    r = run_np("s", cwd=folder)
    assert r.code == 0, r
    for where in (folder, folder / "sub"):  # the parent walk works from below it too
        r = run_np("p", "--json", cwd=where)
        assert r.code == 0, r
        assert r.json()["session"]["dir"].endswith("/p\\xff")
        r = run_np("t", "a", "-t", "from below", cwd=where)
        assert r.code == 0, r
    r = run_np("ls")
    assert r.code == 0 and "p\\xff" in r.out, r
    # -C and a --db path with such a byte work the same way
    r = run_np("-C", str(folder / "sub"), "p")
    assert r.code == 0 and "from below" in r.out, r
    odd_db = tmp_path / "d\udce9" / "np.db"
    r = run_np("--db", str(odd_db), "s", cwd=folder / "sub")
    assert r.code == 0, r
    assert os.path.exists(os.fsencode(str(odd_db)))
    _all_text_well_formed(db_path)


@pytest.mark.parametrize(
    ("args", "field", "char"),
    [
        (["t", "a", "-t", "caf\udce9"], "title", "0xE9"),
        (["t", "a", "-t", "ok", "-d", "bad \udcff byte"], "description", "0xFF"),
        (["g", "s", "-t", "G\udcc3", "-d", "D"], "title", "0xC3"),
    ],
)
def test_text_that_is_not_utf8_is_refused_naming_field_and_byte(
    run_np: NpRunner, db_path: Path, args: list[str], field: str, char: str
) -> None:
    run_np("s")
    before = event_count(db_path)
    r = run_np(*args)
    assert_clean_error(r, 2)
    assert char in r.err and field in r.err, r
    r = run_np(*args, "--json")
    err = r.json()["error"]
    assert (r.code, err["code"], err["data"]["field"]) == (2, 1007, field)
    assert event_count(db_path) == before


def test_a_recorded_command_line_never_makes_a_write_fail(run_np: NpRunner, db_path: Path) -> None:
    """A byte that is not UTF-8 elsewhere in argv (here a --db spelled through a symlink
    with such a name) is recorded escaped, and the write succeeds."""
    run_np("s")
    link = db_path.parent / "l\udcfe.db"
    os.symlink(db_path, link)
    r = run_np("--db", str(link), "t", "a", "-t", "fine")
    assert r.code == 0, r
    r = run_np("log", "-n", "1", "--json")
    events = r.json()["events"]
    assert "l\\xfe.db" in events[0]["cmd"], events
    _all_text_well_formed(db_path)


def test_windows_line_endings_are_normalised_not_refused(run_np: NpRunner) -> None:
    run_np("s")
    r = run_np("g", "s", "-t", "G", "-d", "line one\r\nline two\rline three", "--json")
    assert r.code == 0, r
    assert r.json()["goal"]["description"] == "line one\nline two\nline three"
    r = run_np("t", "a", "-t", "x", "-d", "a\r\nb", "--json")
    assert r.json()["tasks"][0]["description"] == "a\nb"


@pytest.mark.parametrize(
    ("title", "named"),
    [
        ("\u200b\u2060\ufeff", "blank"),
        ("\u3164", "blank"),
        ("   \u00a0", "blank"),
        ("one\u2028two", "U+2028 LINE SEPARATOR"),
        ("one\u2029two", "U+2029 PARAGRAPH SEPARATOR"),
        ("one\x85two", "U+0085"),
        ("one\rtwo", "U+000D"),
        ("bell\x07", "U+0007 BELL"),
        ("abc\u202edcba", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_blank_and_one_line_follow_unicode_categories(
    run_np: NpRunner, db_path: Path, title: str, named: str
) -> None:
    run_np("s")
    before = event_count(db_path)
    r = run_np("t", "a", "-t", title)
    assert_clean_error(r, 2)
    assert named in r.err, r
    assert event_count(db_path) == before


def test_a_refused_control_character_is_named(run_np: NpRunner) -> None:
    run_np("s")
    r = run_np("t", "a", "-t", "x", "-d", "esc \x1b[31m red")
    assert_clean_error(r, 2)
    assert "U+001B" in r.err and "character 5" in r.err, r


def test_shortened_text_keeps_whole_characters(run_np: NpRunner) -> None:
    """The event log quotes titles shortened: the cut never leaves half a flag, a lone
    combining mark or a dangling zero-width joiner."""
    run_np("s")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    title = "x" * 37 + family + "tail"
    r = run_np("t", "a", "-t", title, "--json")
    tid = r.json()["added"][0]
    run_np("t", "u", "-i", tid, "-s", "completed")
    r = run_np("log", "-n", "1")
    assert r.code == 0, r
    line = r.out.splitlines()[0]
    assert "\u200d…" not in line and ("x" * 37 + "…") in line, line
    flags = "\U0001f1eb\U0001f1f7" * 40
    r = run_np("t", "a", "-t", flags, "--json")
    tid = r.json()["added"][0]
    run_np("t", "u", "-i", tid, "-s", "completed")
    line = run_np("log", "-n", "1").out.splitlines()[0]
    quoted = line.split('"')[1]
    assert (len(quoted) - 1) % 2 == 0, quoted  # whole flags only


def test_json_rpc_half_surrogates_are_invalid_argument(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    server = RawServer(server_env(tmp_path / "np.db"), project)
    try:
        server.initialize(project)
        assert "result" in server.command("np.session.start", {})
        # raw bytes: a JSON string with the escape \ud83d (half a surrogate pair)
        for body_args, field in (
            ('{"tasks":[{"title":"bad \\ud83d"}]}', "title"),
            ('{"tasks":[{"title":"ok","description":"\\udc00"}]}', "description"),
            ('{"sid":"\\ud83d"}', "sid"),
            ('{"dir":"/tmp/\\ud83d"}', "dir"),
            ('{"updates":[{"id":"\\ud83d","status":"done"}]}', "id"),
            ('{"updates":[{"id":"abc","status":"done","reason":"\\ud83d"}]}', "reason"),
        ):
            command = {"t": "np.task.add", "u": "np.task.update"}.get(body_args[2], "np.plan")
            msg_id = server.new_id()
            body = (
                f'{{"jsonrpc":"2.0","id":{msg_id},"method":"workspace/executeCommand",'
                f'"params":{{"command":"{command}","arguments":[{body_args}]}}}}'
            ).encode()
            server.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            reply = server.response(msg_id)
            assert reply["error"]["code"] == 1007, reply
            assert reply["error"]["data"]["field"] == field, reply
            json.dumps(reply, ensure_ascii=False).encode("utf-8")  # well-formed all through
        assert "Traceback" not in server.err_text()
        plan = server.command("np.plan", {})["result"]
        assert plan["tasks"] == []
    finally:
        server.close()
    _all_text_well_formed(tmp_path / "np.db")


def test_a_workspace_uri_with_a_non_utf8_byte_names_that_folder(tmp_path: Path) -> None:
    """``file:///…/p%FF`` is the folder whose name holds the byte 0xFF (not U+FFFD)."""
    folder = tmp_path / BAD_DIR
    folder.mkdir()
    server = RawServer(server_env(tmp_path / "np.db"), tmp_path)
    try:
        uri = "file://" + str(tmp_path).replace(" ", "%20") + "/p%FF"
        server.request("initialize", {"processId": None, "capabilities": {}, "rootUri": uri})
        server.notify("initialized", {})
        reply = server.command("np.session.start", {})
        assert reply["result"]["session"]["dir"].endswith("/p\\xff"), reply
    finally:
        server.close()


def test_a_c_locale_changes_nothing(run_np: NpRunner) -> None:
    run_np("s")
    r = run_np("t", "a", "-t", "café ☑", "--json", env={"LC_ALL": "C", "LANG": "C"})
    assert r.code == 0, r
    assert r.json()["tasks"][0]["title"] == "café ☑"


def test_a_title_stored_before_the_rules_still_prints_on_one_line(
    run_np: NpRunner, db_path: Path
) -> None:
    """A database written by an older np (or by hand) may hold a title with U+2028 or a
    bidi override: the plan, the monitor's view and the export still show one line each."""
    run_np("s")
    tid = run_np("t", "a", "-t", "placeholder", "--json").json()["added"][0]
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE tasks SET title = ? WHERE id = ?", ("one\u2028two\u202eowt\rthree", tid)
        )
    for args in (["p"], ["m"], ["export"]):
        r = run_np(*args)
        assert r.code == 0, r
        line = next(x for x in r.out.splitlines() if "one" in x)
        assert "one two" in line and "three" in line, (args, line)
        assert "\u2028" not in r.out and "\u202e" not in r.out and "\r" not in r.out
