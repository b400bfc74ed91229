"""The agent workflow end to end through the real ``np`` executable."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NpRunner, np_command


@pytest.fixture
def np_env(np_db: str) -> dict[str, str]:
    """Every workflow test that runs ``np`` runs on both engines (``np_db``)."""
    env = {**os.environ, "NP_DB": np_db}
    env.pop("NP_DEBUG", None)
    return env


def ids(run_np: NpRunner, **kw: object) -> list[str]:
    return [t["id"] for t in run_np("t", "--json", **kw).json()["tasks"]]  # type: ignore[arg-type]


def test_full_agent_session(run_np: NpRunner) -> None:
    r = run_np("s")
    assert r.code == 0, r
    assert "np g s" in r.out  # guidance names only the next step
    assert "np a" not in r.out and "export" not in r.out

    r = run_np("g", "s", "-t", "Fix login", "-d", "Issue #12. Files: src/auth.py")
    assert r.code == 0, r
    # After a write the goal shows its title alone: the agent has just written the rest.
    assert r.out.startswith("Goal: Fix login\n\n(no tasks yet)\n\nGoal set.")
    assert "np t a" in r.out

    r = run_np("t", "a", "-t", "Reproduce", "-d", "write a failing test", "-t", "Fix", "-t", "Ship")
    assert r.code == 0, r
    assert "np t u" in r.out
    first, second, third = ids(run_np)
    assert f"☐ {first} Reproduce\n    write a failing test\n☐ {second} Fix\n☐ {third} Ship" in r.out

    r = run_np("t", "u", "-i", first, "-s", "completed", "-i", second, "-s", "in_progress")
    assert r.code == 0, r
    assert f"☑ {first} Reproduce\n⟳ {second} Fix" in r.out
    assert "Legend" not in r.out  # a status change prints no legend (np t a and reads do)

    r = run_np("t", "u", "-i", third, "-s", "failed", "-r", "CI is down")
    assert r.code == 0, r
    assert r.out.rstrip().endswith(f"☒ {third} Ship\n    reason: CI is down")
    assert "Legend: ☐ pending ⟳ in progress ☑ completed ☒ failed" in run_np("p").out

    r = run_np("t", "e", "-i", second, "-t", "Fix the token check", "-r", "more precise")
    assert r.code == 0, r
    assert f"⟳ {second} Fix the token check" in r.out

    r = run_np("g", "u", "-d", "Issue #12 and #13", "-r", "operator widened scope")
    assert r.code == 0, r
    assert r.out.startswith("Goal: Fix login\n\n")

    assert run_np("p").out.startswith("Goal: Fix login\nIssue #12 and #13\n\n")
    assert run_np("g").out == "Goal: Fix login\nIssue #12 and #13\n"

    r = run_np("r")
    assert r.code == 0 and "resuming" in r.out and "np t u" in r.out
    # A fresh context sees why the failed task failed, without np log.
    assert f"☒ {third} Ship\n    reason: CI is down\n" in r.out

    log = run_np("log", "--json").json()["events"]
    assert [e["seq"] for e in log] == list(range(len(log), 0, -1))
    types = [e["type"] for e in reversed(log)]
    assert types == [
        "session_started",
        "goal_set",
        "task_added",
        "task_added",
        "task_added",
        "task_status_changed",
        "task_status_changed",
        "task_status_changed",
        "task_updated",
        "goal_updated",
    ]
    failed = next(e for e in log if e["payload"].get("status_after") == "failed")
    assert failed["reason"] == "CI is down"
    assert failed["cmd"] == f"np t u -i {third} -s failed -r 'CI is down'"

    text_log = run_np("log", "-n", "2").out.splitlines()
    assert len(text_log) == 3
    assert text_log[0].startswith("#10 ") and "operator widened scope" in text_log[0]
    # who did it: `agent`, on PostgreSQL `agent@<host name>` (machines share plans there)
    assert re.search(r" agent(@[^:]+)?: goal changed", text_log[0])
    # The last line says how many older events exist and how to see them.
    assert text_log[2] == (
        "… 8 older events; see them with np log -n 10 (or all of it, with reasons: np export)."
    )
    assert run_np("log").out.splitlines()[-1] == "(the whole log: 10 events)"

    r = run_np("a")
    assert r.code == 0 and "archived" in r.out
    assert run_np("p").code == 1
    again = run_np("a")  # idempotent, as promised: succeeds and says so
    assert again.code == 0 and "was already archived" in again.out, again
    assert run_np("a", "--json").json()["already_archived"] is True


def test_json_results_match_the_spec_shapes(run_np: NpRunner, engine: str) -> None:
    start = run_np("--json", "s").json()
    assert set(start) == {"session", "goal", "tasks", "counts", "text", "guide", "changes"}
    assert start["goal"] is None
    assert start["counts"] == dict.fromkeys(
        ["pending", "in_progress", "completed", "failed", "cancelled"], 0
    )
    session = start["session"]
    # PostgreSQL sessions carry their scope (host name or NP_SCOPE); SQLite's have none.
    assert set(session) - {"scope"} == {
        "sid",
        "dir",
        "state",
        "created_at",
        "last_updated_at",
        "archived_at",
    }
    assert ("scope" in session) == (engine == "postgresql")
    assert session["created_at"].endswith("Z")

    goal = run_np("g", "s", "-t", "T", "-d", "D", "--json").json()
    assert goal["goal"]["title"] == "T" and "guide" in goal

    added = run_np("t", "a", "--json", "-t", "a", "-t", "b", "-d", "bd").json()
    assert len(added["added"]) == 2
    assert [t["title"] for t in added["tasks"]] == ["a", "b"]
    assert added["tasks"][1]["description"] == "bd"
    assert set(added["tasks"][0]) == {
        "id",
        "title",
        "description",
        "status",
        "created_at",
        "updated_at",
        "reason",
        "after",
        "claimed_by",
        "claim_expires_at",
        "ask",
    }
    assert added["tasks"][0]["reason"] is None
    assert added["tasks"][0]["ask"] is None

    upd = run_np("t", "u", "-i", added["added"][0], "-s", "cancelled", "-r", "dup", "--json")
    assert upd.json()["counts"]["cancelled"] == 1
    assert upd.json()["tasks"][0]["reason"] == "dup"  # why, where it is needed
    assert upd.json()["changes"] == []  # nobody else changed anything
    assert "guide" not in upd.json()

    listed = run_np("t", "-s", "pending", "--json").json()
    assert [t["id"] for t in listed["tasks"]] == [added["added"][1]]

    sessions = run_np("ls", "--json").json()["sessions"]
    assert [s["sid"] for s in sessions] == [session["sid"]]

    archived = run_np("a", "--json").json()["session"]
    assert archived["state"] == "archived" and archived["archived_at"]
    assert run_np("ls", "--json").json()["sessions"] == []
    assert len(run_np("ls", "--all", "--json").json()["sessions"]) == 1

    # An archived session can still be read by id.
    plan = run_np("p", "--session", session["sid"], "--json").json()
    assert plan["session"]["state"] == "archived"
    assert plan["text"].startswith("(archived session")


def test_global_flags_before_or_after_and_dash_values(
    run_np: NpRunner, tmp_path: Path, workdir: Path
) -> None:
    other_db = tmp_path / "other.db"
    assert run_np("--db", str(other_db), "s").code == 0
    assert run_np("s", "--db", str(other_db)).code == 1  # same db: already active
    assert run_np("s").code == 0  # the default (NP_DB) database is separate

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = run_np("-C", str(elsewhere), "--json", "s")
    assert r.json()["session"]["dir"] == str(elsewhere.resolve())

    r = run_np("g", "s", "-t", "-starts with a dash", "-d", "- a bullet\n- another")
    assert r.code == 0, r
    assert "Goal: -starts with a dash\n- a bullet\n- another" in run_np("g").out
    r = run_np("t", "a", "--title=eq form", "--description=with = sign")
    assert "eq form\n    with = sign" in r.out


def test_parent_walk_and_symlinks(run_np: NpRunner, workdir: Path, tmp_path: Path) -> None:
    deep = workdir / "src" / "pkg"
    deep.mkdir(parents=True)
    sid = run_np("s", "--json").json()["session"]["sid"]
    assert run_np("p", "--json", cwd=deep).json()["session"]["sid"] == sid
    r = run_np("s", "--json", cwd=deep)
    assert r.code == 1
    assert r.json()["error"]["data"]["session"]["sid"] == sid
    refused = run_np("s", cwd=deep)  # names the directory of the session already active
    assert refused.code == 1 and f"already active for {workdir.resolve()}, which" in refused.err

    link = tmp_path / "link"
    link.symlink_to(workdir)
    assert run_np("p", "--json", cwd=link).json()["session"]["sid"] == sid
    assert run_np("p", "--json", cwd=link / "src").json()["session"]["sid"] == sid


def test_unicode_round_trips(run_np: NpRunner) -> None:
    run_np("s")
    title = "Réparer la connexion — 日本語 ✓ 🚀"
    run_np("g", "s", "-t", title, "-d", "Ünïcödé\tand tabs")
    r = run_np("t", "a", "-t", "emoji 🧪", "-d", "ελληνικά")
    assert r.code == 0, r
    assert "emoji 🧪\n    ελληνικά" in r.out
    plan = run_np("p", "--json").json()
    assert plan["goal"]["title"] == title
    assert plan["goal"]["description"] == "Ünïcödé\tand tabs"


def test_export_markdown_and_json(run_np: NpRunner, tmp_path: Path) -> None:
    run_np("s")
    run_np("g", "s", "-t", "Export me", "-d", "desc")
    run_np("t", "a", "-t", "one", "-t", "two")
    first = ids(run_np)[0]
    run_np("t", "u", "-i", first, "-s", "failed", "-r", "it broke")

    md = run_np("export").out
    assert md.startswith("# Export me\n")
    assert "## Event log" in md and "Reason: it broke" in md
    assert f"☒ `{first}` **one** — failed" in md

    doc = run_np("export", "--format", "json").json()
    assert doc["np_export"] == 1
    assert doc["goal"]["title"] == "Export me"
    assert [e["seq"] for e in doc["events"]] == [1, 2, 3, 4, 5]

    out = tmp_path / "plan.md"
    r = run_np("export", "-o", str(out))
    assert r.code == 0 and r.out == ""
    assert out.read_text(encoding="utf-8") == md

    wrapped = run_np("export", "--json", "--format", "md").json()
    assert wrapped["format"] == "markdown" and wrapped["content"] == md


def test_prompt_help_and_version(run_np: NpRunner) -> None:
    prompt = run_np("prompt")
    assert prompt.code == 0 and "np s" in prompt.out and "np a" not in prompt.out
    assert run_np("--help").code == 0
    assert "np t a" in run_np("t", "a", "--help").out
    assert run_np("--version").out.startswith("np ")
    assert run_np().code == 2


def test_concurrent_processes_adding_tasks_lose_nothing(
    run_np: NpRunner, np_env: dict[str, str], workdir: Path
) -> None:
    run_np("s")
    procs = [
        subprocess.Popen(
            [*np_command(), "t", "a", *[a for i in range(5) for a in ("-t", f"w{w}-t{i}")]],
            cwd=workdir,
            env=np_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert not any("locked" in e for e in errors)
    plan = run_np("p", "--json").json()
    titles = sorted(t["title"] for t in plan["tasks"])
    assert titles == sorted(f"w{w}-t{i}" for w in range(8) for i in range(5))
    assert len({t["id"] for t in plan["tasks"]}) == 40
    events = run_np("log", "-n", "1000", "--json").json()["events"]
    assert sorted(e["seq"] for e in events) == list(range(1, 42))


def test_default_database_location_is_private(tmp_path: Path, workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NP_DB"}
    env["HOME"] = str(tmp_path / "home")
    env.pop("XDG_DATA_HOME", None)
    proc = subprocess.run(
        [*np_command(), "s", "--json"], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "home" / ".local" / "share" / "np" / "np.db"
    assert db.exists()
    assert os.stat(db).st_mode & 0o777 == 0o600
    assert os.stat(db.parent).st_mode & 0o777 == 0o700
    assert json.loads(proc.stdout)["session"]["dir"] == str(workdir.resolve())


def mask(text: str) -> str:
    """Times, session ids and task ids masked: what differs between two runs by nature."""
    text = re.sub(r"\d{4}-\d\d-\d\d[T ][\d:.]+Z?", "T", text)
    text = re.sub(r"\b\d\d:\d\dZ", "HH:MMZ", text)  # a claim's "until 09:33Z"
    text = re.sub(r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "SID", text)
    return re.sub(r"\b[0-9a-f]{6,8}\b", "ID", text)


def test_the_same_history_reads_the_same_on_both_engines(
    tmp_path: Path, workdir: Path, request: pytest.FixtureRequest
) -> None:
    """One scripted session on SQLite and on PostgreSQL: every text output is the same,
    once ids and times (which differ by nature) are masked."""
    from tests.pg_support import create_database, drop_database

    server = request.getfixturevalue("pg_server")
    url = create_database(server)
    outputs: list[list[str]] = []
    try:
        for db in (str(tmp_path / "lite.db"), url):
            # the same actor on both (PostgreSQL's default is agent@<host>: machines differ)
            env = {**os.environ, "NP_DB": db, "NP_ACTOR": "agent"}

            def np(*args: str, env: dict[str, str] = env) -> str:
                proc = subprocess.run(
                    [*np_command(), *args], cwd=workdir, env=env, capture_output=True, text=True
                )
                assert proc.returncode == 0, (env["NP_DB"][:12], args, proc.stderr)
                return proc.stdout

            seen = [np("s"), np("g", "s", "-t", "Ship it", "-d", "All of it — ünïcode")]
            seen.append(np("t", "a", "-t", "one", "-t", "two", "-d", "second"))
            first, second = (t["id"] for t in json.loads(np("t", "--json"))["tasks"])
            seen.append(np("t", "u", "-i", first, "-s", "done", "-i", second, "-s", "in_progress"))
            seen.append(np("t", "e", "-i", second, "-t", "two (reworded)", "-r", "clearer"))
            seen.append(np("t", "u", "-i", second, "-s", "failed", "-r", "it broke"))
            seen += [np("p"), np("t"), np("log"), np("export"), np("r")]
            masked = [mask(x) for x in seen]
            outputs.append([x.replace(first, "ID").replace(second, "ID") for x in masked])
    finally:
        drop_database(server, url)
    assert outputs[0] == outputs[1]


def test_np_ls_has_a_header_goal_titles_and_names_all(run_np: NpRunner, tmp_path: Path) -> None:
    """Issue 18: np ls had no header nor goal titles, and "(no sessions)" did not say that
    archived ones exist (np ls --all)."""
    assert run_np("ls").out == "(no active sessions; np ls --all lists the archived ones too)\n"
    assert run_np("ls", "--all").out.startswith("(no sessions yet: np s starts one")
    assert run_np("s").code == 0
    assert run_np("g", "s", "-t", "Ship the login page", "-d", "Issue 42").code == 0
    lines = run_np("ls").out.splitlines()
    header = [w for w in lines[0].split() if w != "SCOPE"]  # PostgreSQL: the machine too
    assert header == ["SESSION", "STATE", "UPDATED", "(UTC)", "FOLDER", "GOAL"]
    assert lines[1].endswith("  Ship the login page") and " active " in lines[1]
    assert lines[2] == "(active sessions; np ls --all lists the archived ones too)"
    assert lines[0].index("GOAL") == lines[1].index("Ship the login page")  # aligned
    listed = run_np("ls", "--json").json()
    assert listed["sessions"][0]["goal_title"] == "Ship the login page"
    assert run_np("a").code == 0
    assert run_np("ls").out.startswith("(no active sessions; np ls --all")
    archived = run_np("ls", "--all").out.splitlines()
    assert " archived " in archived[1] and archived[1].endswith("Ship the login page")
    assert len(archived) == 2  # --all: no hint
