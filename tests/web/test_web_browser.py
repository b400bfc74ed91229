"""The operator's page in a real browser, as a person uses it, on both engines: sees the
plans, sees a CLI change appear without a reload, steers with the same rules as every door,
and nothing reaches it without the token or from another origin."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command
from tests.web.conftest import WebServer


def _plan(np_cli: Any) -> dict[str, Any]:
    return json.loads(np_cli("p", "--json").stdout)


def _seed(np_cli: Any) -> dict[str, Any]:
    np_cli("s")
    np_cli("g", "s", "-t", "Ship the release", "-d", "Issue 7: tag, build and publish 2.0")
    np_cli("t", "a", "-t", "Tag the release", "-d", "git tag v2.0", "-t", "Build the wheels")
    return _plan(np_cli)


def _open_plan(page: Any, web: WebServer, goal: str = "Ship the release") -> None:
    page.goto(web.link)
    assert "token=" not in page.url  # traded for a cookie, dropped from the address
    page.get_by_role("link", name=goal).click()
    page.wait_for_selector("h1#goal-h")


def test_sees_the_plan_and_a_cli_change_live(web: WebServer, page: Any, np_cli: Any) -> None:
    plan = _seed(np_cli)
    page.goto(web.link)
    card = page.locator(".card").first
    assert card.locator("h2").inner_text() == "Ship the release"
    assert "0/2 completed" in card.inner_text()
    assert "agent" in card.locator(".actors").inner_text()  # who works on it
    _open_plan(page, web)
    tasks = page.locator("ol.tasks > li")
    assert tasks.count() == 2
    assert "Tag the release" in tasks.first.inner_text()
    assert "Issue 7" in page.locator(".goal .desc").inner_text()
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    first = plan["tasks"][0]["id"]
    np_cli("t", "u", "-i", first, "-s", "in_progress")
    np_cli("t", "a", "-t", "Publish to the index")
    page.locator("ol.tasks .title", has_text="Publish to the index").wait_for()
    page.locator(f"#task-{first} .badge.st-in_progress").wait_for()
    assert page.evaluate("window.__same_page") is True  # live, not reloaded
    assert page.locator("ol.log li").first.locator(".actor").inner_text().startswith("agent")


def test_cancel_needs_a_reason_then_edit_and_archive(
    web: WebServer, page: Any, np_cli: Any
) -> None:
    plan = _seed(np_cli)
    task = plan["tasks"][1]["id"]
    _open_plan(page, web)
    page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
    page.wait_for_selector("h1#task-h")
    page.get_by_label("New status").select_option("cancelled")
    page.get_by_role("button", name="Set status").click()
    alert = page.get_by_role("alert")
    assert "reason" in alert.inner_text().lower()
    assert _plan(np_cli)["tasks"][1]["status"] == "pending"  # refused: nothing changed
    assert page.get_by_label("New status").input_value() == "cancelled"  # what was chosen
    # The refused form's page (answered at its POST address) still follows live changes.
    np_cli("t", "e", "-i", task, "-t", "Build the wheels (CI)", "-r", "CI builds them")
    page.locator("h1#task-h", has_text="Build the wheels (CI)").wait_for()
    assert page.get_by_label("New status").input_value() == "cancelled"  # still as chosen

    page.get_by_label("Reason for the status").fill("Wheels are built by CI now")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{task} .badge.st-cancelled").wait_for()  # back on the plan
    after = _plan(np_cli)["tasks"][1]
    assert (after["status"], after["reason"]) == ("cancelled", "Wheels are built by CI now")

    first = plan["tasks"][0]["id"]
    page.locator(f"#task-{first}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("Title").fill("Tag the release as v2.0.0")
    page.get_by_role("button", name="Save the edit").click()
    assert "reason" in page.get_by_role("alert").inner_text().lower()  # an edit needs one
    assert _plan(np_cli)["tasks"][0]["title"] == "Tag the release"
    assert page.get_by_label("Title").input_value() == "Tag the release as v2.0.0"  # kept
    page.get_by_label("Reason for the edit").fill("Semantic version")
    page.get_by_role("button", name="Save the edit").click()
    page.locator("ol.tasks .title", has_text="Tag the release as v2.0.0").wait_for()
    assert _plan(np_cli)["tasks"][0]["title"] == "Tag the release as v2.0.0"
    log = json.loads(np_cli("log", "--json").stdout)["events"]
    mine = [e for e in log if e["cmd"].startswith("web:")]
    assert len(mine) == 2 and all(e["actor"].startswith("operator") for e in mine)

    # Archiving asks for confirmation: the page's own post without it changes nothing.
    status = page.evaluate(
        """async (sid) => (await fetch(`/s/${sid}/archive`, {method: 'POST',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'},
             body: 'what=archive'})).status""",
        plan["session"]["sid"],
    )
    assert status == 400
    assert _plan(np_cli)["session"]["state"] == "active"
    page.get_by_label("Yes, archive this session").check()
    page.get_by_role("button", name="Archive the session").click()
    page.wait_for_url(f"{web.origin}/")
    assert np_cli("p", check=False).returncode != 0  # nothing active here any more
    assert "archived" in np_cli("ls", "--all").stdout


def _request(
    web: WebServer, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> int:
    req = urllib.request.Request(f"{web.origin}{path}", data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_no_token_or_another_origin_is_refused_and_changes_nothing(
    web: WebServer, page: Any, np_cli: Any, tmp_path: Path
) -> None:
    plan = _seed(np_cli)
    sid, task = plan["session"]["sid"], plan["tasks"][0]["id"]
    before = json.loads(np_cli("log", "--json").stdout)["events"]
    cookie = f"np_web_{web.port}={web.token}"
    form = f"what=status&id={task}&status=completed".encode()
    same = {"Origin": web.origin, "Content-Type": "application/x-www-form-urlencoded"}
    assert _request(web, "/") == 403  # no token
    assert _request(web, f"/s/{sid}") == 403
    assert _request(web, "/live") == 403
    assert _request(web, "/static/live.js") == 403
    assert _request(web, "/", headers={"Cookie": f"np_web_{web.port}=wrong"}) == 403
    assert _request(web, f"/s/{sid}/status", data=form, headers=same) == 403  # no cookie
    other = {**same, "Cookie": cookie, "Origin": "http://evil.example"}
    assert _request(web, f"/s/{sid}/status", data=form, headers=other) == 403
    no_origin = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    assert _request(web, f"/s/{sid}/status", data=form, headers=no_origin) == 403
    query = f"/s/{sid}/status?token={web.token}"  # a change never by the query's token
    assert _request(web, query, data=form, headers=same) == 403
    rebound = {"Cookie": cookie, "Host": f"evil.example:{web.port}"}  # DNS rebinding
    assert _request(web, "/", headers=rebound) == 400
    assert _request(web, "/", headers={"Cookie": cookie}) == 200

    # A page of another origin (another port of the same host: same site, so the browser
    # sends the cookie) posts a change to np web: refused.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(
        f"""<form id=f method=post action="{web.origin}/s/{sid}/status">
        <input name=id value="{task}"><input name=status value=completed></form>
        <script>document.getElementById('f').submit()</script>"""
    )
    # -u: its "Serving HTTP on … port N" line is read through a pipe (block-buffered without it)
    site = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path / "site",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert site.stdout is not None
        line = site.stdout.readline()
        port = int(line.split("port ")[1].split()[0])
        page.goto(web.link)  # the operator's browser has the cookie
        page.goto(f"http://127.0.0.1:{port}/index.html")
        page.wait_for_url(f"{web.origin}/s/{sid}/status")
        assert "Refused" in page.content()
    finally:
        site.terminate()
        site.wait()
    after = json.loads(np_cli("log", "--json").stdout)["events"]
    assert after == before  # nothing changed
    assert _plan(np_cli)["tasks"][0]["status"] == "pending"
    assert web.token not in page.content()


def test_a_phone_width_page_fits_and_works(web: WebServer, browser: Any, np_cli: Any) -> None:
    plan = _seed(np_cli)
    np_cli("t", "a", "-t", "A task with a very long title " + "word " * 30)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(web.link)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _open_plan(page, web)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        task = plan["tasks"][0]["id"]
        page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
        page.wait_for_selector("h1#task-h")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.get_by_label("New status").select_option("completed")
        page.get_by_role("button", name="Set status").click()
        page.locator(f"#task-{task} .badge.st-completed").wait_for()
        # keyboard: the skip link is the first stop and takes focus to the content
        page.goto(f"{web.origin}/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "live"
    finally:
        context.close()
    assert _plan(np_cli)["tasks"][0]["status"] == "completed"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_host_other_than_loopback_warns(np_db: str, project: Path) -> None:
    server = WebServer(np_db, project, "--host", "0.0.0.0")
    try:
        assert _request(server, "/", headers={"Cookie": f"np_web_{server.port}=x"}) == 403
    finally:
        err = server.stop()
    assert "warning" in err and "reachable from other machines" in err
    assert server.token not in err


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_the_database_password_is_never_shown(
    np_db: str, project: Path, page: Any, np_cli: Any
) -> None:
    _seed(np_cli)
    secret = "Pw-n3ver-shown"
    with_password = np_db.replace("postgresql://np@", f"postgresql://np:{secret}@", 1)
    assert secret in with_password  # the test cluster trusts its socket: any password works
    server = WebServer(with_password, project)
    try:
        page.goto(server.link)
        assert "Ship the release" in page.content()
        assert secret not in page.content() and secret not in server.stdout
        _open_plan(page, server)
        assert secret not in page.content()
    finally:
        err = server.stop()
    assert secret not in err and server.token not in err


def test_the_page_reconnects_by_itself_and_catches_up(
    np_db: str, project: Path, page: Any, np_cli: Any
) -> None:
    """np web stops (the stream drops), a change is committed meanwhile, np web starts
    again on the same port with the same token (NP_WEB_TOKEN): the open page reconnects
    by itself and shows the change, without a reload."""
    import secrets
    import socket

    _seed(np_cli)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    token = {"NP_WEB_TOKEN": secrets.token_urlsafe(32)}
    first = WebServer(np_db, project, "--port", port, env=token)
    try:
        _open_plan(page, first)
        page.locator("#link-status", has_text="live").wait_for()
        page.evaluate("window.__same_page = true")
    finally:
        assert "token" not in first.stop().lower()
    page.locator("#link-status", has_text="reconnecting").wait_for()
    np_cli("t", "a", "-t", "Added while np web was down")
    second = WebServer(np_db, project, "--port", port, env=token)
    try:
        page.locator("ol.tasks .title", has_text="Added while np web was down").wait_for(
            timeout=30_000
        )
        page.locator("#link-status", has_text="live").wait_for()
        assert page.evaluate("window.__same_page") is True
    finally:
        second.stop()


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_malformed_fixed_token_is_refused(np_db: str, project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "web", "--port", "0"],
        env={**os.environ, "NP_DB": np_db, "NP_WEB_TOKEN": "short"},
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "NP_WEB_TOKEN" in proc.stderr and "short" not in proc.stderr


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_live_update_keeps_what_the_operator_typed(
    web: WebServer, page: Any, np_cli: Any
) -> None:
    _seed(np_cli)
    _open_plan(page, web)
    page.locator("summary", has_text="Add a task").click()
    add = page.locator("form[action$='/add']")
    add.get_by_label("Title").fill("Half-typed idea")
    np_cli("t", "a", "-t", "While typing")  # focus still in the form: the swap waits
    page.wait_for_timeout(600)
    assert page.locator("ol.tasks .title", has_text="While typing").count() == 0
    page.locator("h1#goal-h").click()  # focus leaves the form: the page catches up
    page.locator("ol.tasks .title", has_text="While typing").wait_for()
    add = page.locator("form[action$='/add']")
    assert add.get_by_label("Title").input_value() == "Half-typed idea"  # not lost
    assert add.is_visible()  # its box is still open
    np_cli("t", "a", "-t", "After the blur")  # focus outside: swapped at once, text kept
    page.locator("ol.tasks .title", has_text="After the blur").wait_for()
    assert page.locator("form[action$='/add']").get_by_label("Title").input_value() == (
        "Half-typed idea"
    )


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_every_machines_sessions_are_shown_and_steered(
    web: WebServer, page: Any, np_cli: Any, project: Path
) -> None:
    """On PostgreSQL a session of another machine (another scope) is listed with its scope,
    and the operator's change reaches it (the write names the session by its id)."""
    env = {**os.environ, "NP_DB": web.db, "NP_SCOPE": "build-box-7"}
    env.pop("NP_ACTOR", None)

    def there(*args: str) -> str:
        proc = subprocess.run(
            [*np_command(), *args], cwd=project, env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc
        return proc.stdout

    there("s")
    there("g", "s", "-t", "Nightly build on the other box", "-d", "Issue 9")
    there("t", "a", "-t", "Rebuild the cache")
    task = json.loads(there("p", "--json"))["tasks"][0]["id"]
    page.goto(web.link)
    card = page.locator(".card", has_text="Nightly build on the other box")
    assert "on build-box-7" in card.inner_text()
    card.get_by_role("link", name="Nightly build on the other box").click()
    page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("New status").select_option("failed")
    page.get_by_label("Reason for the status").fill("The box is out of disk")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{task} .badge.st-failed").wait_for()
    after = json.loads(there("p", "--json"))["tasks"][0]
    assert (after["status"], after["reason"]) == ("failed", "The box is out of disk")
    assert np_cli("p", check=False).returncode != 0  # nothing was started in this scope


def test_add_a_task_and_change_the_goal(web: WebServer, page: Any, np_cli: Any) -> None:
    _seed(np_cli)
    _open_plan(page, web)
    page.locator("summary", has_text="Add a task").click()
    add = page.locator("form[action$='/add']")
    add.get_by_label("Title").fill("Write the release notes")
    add.get_by_label("Description").fill("From CHANGELOG.md")
    add.get_by_role("button", name="Add the task").click()
    page.locator("ol.tasks .title", has_text="Write the release notes").wait_for()
    page.locator("summary", has_text="Change the goal").click()
    goal = page.locator("form[action$='/goal']")
    goal.get_by_label("Title").fill("Ship the release 2.0.1")
    goal.get_by_role("button", name="Change the goal").click()
    assert "reason" in page.get_by_role("alert").inner_text().lower()  # a goal change needs one
    goal = page.locator("form[action$='/goal']")
    assert goal.get_by_label("Title").input_value() == "Ship the release 2.0.1"  # kept
    goal.get_by_label("Reason for the change").fill("A patch release first")
    goal.get_by_role("button", name="Change the goal").click()
    page.locator("h1#goal-h", has_text="Ship the release 2.0.1").wait_for()
    plan = _plan(np_cli)
    assert plan["goal"]["title"] == "Ship the release 2.0.1"
    added = plan["tasks"][-1]
    assert (added["title"], added["description"]) == (
        "Write the release notes",
        "From CHANGELOG.md",
    )
    log = json.loads(np_cli("log", "--json").stdout)["events"]
    assert [e["cmd"] for e in log if e["cmd"].startswith("web:")] == [
        "web:np.goal.change",
        "web:np.task.add",
    ]  # newest first


def test_what_the_page_showed_counts_as_seen(web: WebServer, page: Any, np_cli: Any) -> None:
    """An agent changes a task after the operator's last change; the operator's page shows
    it live, so the operator's next change to that task is an informed one, not refused as
    a blind override (changed_since_seen)."""
    plan = _seed(np_cli)
    task = plan["tasks"][0]["id"]
    _open_plan(page, web)
    page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("New status").select_option("in_progress")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{task} .badge.st-in_progress").wait_for()
    np_cli("p")  # the agent reads the plan (and the operator's change) first
    np_cli("t", "e", "-i", task, "-t", "Tag it as v2.0.0", "-r", "exact tag")
    page.locator(f"#task-{task} .title", has_text="Tag it as v2.0.0").wait_for()  # live
    page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("New status").select_option("completed")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{task} .badge.st-completed").wait_for()
    assert page.get_by_role("alert").count() == 0
    assert _plan(np_cli)["tasks"][0]["status"] == "completed"


def test_a_claimed_task_is_taken_over_only_on_purpose_and_waits_show(
    web: WebServer, page: Any, np_cli: Any
) -> None:
    plan = _seed(np_cli)
    first, second = (t["id"] for t in plan["tasks"])
    np_cli("t", "u", "-i", first, "-s", "in_progress")  # the agent claims it
    _open_plan(page, web)
    page.locator(f"#task-{first} .claim", has_text="agent").wait_for()
    page.locator(f"#task-{first}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("New status").select_option("completed")
    page.get_by_role("button", name="Set status").click()
    assert "agent" in page.get_by_role("alert").inner_text()  # refused, naming the holder
    assert _plan(np_cli)["tasks"][0]["status"] == "in_progress"
    page.get_by_label(re.compile(r"Take over agent(@\S+)?'s claim")).check()
    page.get_by_label("Reason for the status").fill("The agent is stuck; done by hand")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{first} .badge.st-completed").wait_for()
    assert _plan(np_cli)["tasks"][0]["status"] == "completed"

    page.locator("summary", has_text="Add a task").click()
    add = page.locator("form[action$='/add']")
    add.get_by_label("Title").fill("Publish")
    add.get_by_label("Waits for").fill(second)
    add.get_by_role("button", name="Add the task").click()
    new = page.locator("ol.tasks > li").last
    new.locator(".deps", has_text=second).wait_for()
    assert _plan(np_cli)["tasks"][-1]["after"] == [second]


def test_an_agents_question_is_answered_from_the_page(
    web: WebServer, page: Any, np_cli: Any
) -> None:
    """An agent asks on a task and keeps working; the question appears live on the plan;
    the operator answers with one of its choices (a blank answer is refused and changes
    nothing); the agent's next output carries the answer, once, and the answer is the
    operator's event."""
    plan = _seed(np_cli)
    task = plan["tasks"][0]["id"]
    _open_plan(page, web)
    np_cli("t", "q", "-i", task, "-q", "Which tag format?", "-o", "v2.0", "-o", "2.0.0")
    line = page.locator(f"#task-{task} .ask")
    line.wait_for()
    assert "Which tag format?" in line.inner_text()
    line.get_by_role("link", name="Answer").click()
    page.wait_for_selector("h2#ask-h")
    page.get_by_role("button", name="Send the answer").click()  # blank: refused
    assert page.get_by_role("alert").inner_text().strip()
    assert _plan(np_cli)["tasks"][0]["ask"] is not None  # still open: nothing changed
    page.get_by_role("button", name="2.0.0", exact=True).click()
    page.wait_for_selector("h1#goal-h")  # back on the plan
    page.locator(f"#task-{task} .ask").wait_for(state="detached")
    first = np_cli("p").stdout
    # first, in full (PostgreSQL's default actor names the machine: operator@host)
    assert re.match(rf"Answer from operator(@\S+)? on {task}: 2\.0\.0\n", first), first
    assert "2.0.0" not in np_cli("r").stdout  # delivered once
    log = json.loads(np_cli("log", "--json").stdout)["events"]
    answered = [e for e in log if e["cmd"] == "web:np.task.answer"]
    assert len(answered) == 1 and answered[0]["actor"].startswith("operator")


def test_the_log_shows_whether_each_agent_has_seen_the_operators_change(
    web: WebServer, page: Any, np_cli: Any
) -> None:
    """A receipt under the operator's change: not yet seen by the agent until the agent's
    next read, then seen by it."""
    plan = _seed(np_cli)
    task = plan["tasks"][1]["id"]
    _open_plan(page, web)
    page.locator(f"#task-{task}").get_by_role("link", name="Change status or edit").click()
    page.get_by_label("New status").select_option("cancelled")
    page.get_by_label("Reason for the status").fill("CI builds the wheels")
    page.get_by_role("button", name="Set status").click()
    page.locator(f"#task-{task} .badge.st-cancelled").wait_for()
    newest = page.locator("ol.log > li").first
    assert "not yet seen — agent" in newest.locator(".receipt").inner_text()
    np_cli("p")  # the agent reads: it is told of the cancel
    page.reload()
    newest = page.locator("ol.log > li").first
    assert "seen by agent" in newest.locator(".receipt").inner_text()
