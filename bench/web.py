"""``np web``: page load, live-update latency beside ``np serve``'s notification, memory, on a
database of 1,000 sessions plus one session of 100,000 events.

* **Page load**: Debian's Chromium (Playwright, ``executable_path``) loads the session list
  (first page of 50) and the plan page of the 100,000-event session; the figure is the
  navigation's ``loadEventEnd`` (request to a rendered page, styles and script included),
  median. Baseline, same run: ``np serve`` answering the same reads over JSON-RPC
  (``np.session.overview``; ``np.plan`` + ``np.events`` of the newest 50).
* **Live update**: a commit through the store API (another connection: the code the CLI
  runs) adds a task to the plan the browser shows; the figure is commit → the task's title
  in the page (``np:refreshed`` after the swap, the browser's clock), next to the same
  commit → ``np/didChange`` at an ``np serve`` client started on the same database.
* **Memory**: the resident set of the ``np web`` process after serving those pages
  (``VmHWM``, its peak), next to ``np serve``'s after the same reads.
* **Page weight**: the plan page of the 100,000-event session in bytes, next to its whole
  log as ``np.events`` JSON: the page never loads the whole log.

    python -m bench.web [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PROFILES,
    Profile,
    Row,
    median,
    np_command,
    np_env,
    percentile,
    seed_session,
    workspace,
)
from bench.lspclient import RawLspClient

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SESSIONS = {"full": 1000, "quick": 300, "dry": 20}
WATCH = """
window.__seen = {};
document.addEventListener('np:refreshed', () => {
  const t = Date.now();
  for (const m of document.getElementById('live').textContent.match(/live-\\d+/g) || [])
    if (!(m in window.__seen)) window.__seen[m] = t;
});
"""


def _seed_many(db: Path, base: Path, count: int) -> None:
    from store import NewTask, Status, StatusChange, Store

    with Store(str(db)) as store:
        for start in range(0, count, 100):
            with store.transaction("bench seed", "agent") as unit:
                for n in range(start, min(count, start + 100)):
                    d = base / f"repo-{n:04d}"
                    d.mkdir(parents=True, exist_ok=True)
                    sid = unit.start_session(str(d)).sid
                    unit.set_goal(sid, f"Goal {n}", "A plan among many.")
                    added = unit.add_tasks(sid, [NewTask(f"step {k}", "") for k in range(3)])
                    unit.set_statuses(sid, [StatusChange(added[0].id, Status.COMPLETED)])


def _rss_peak(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _poll(page: Any, expression: str, timeout: float = 5.0) -> Any:
    """The value of ``expression`` in the page once it is not undefined (polled from here:
    the page's Content-Security-Policy forbids the eval that wait_for_function needs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value is not None:
            return value
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {expression}")


def _load_ms(page: Any, url: str) -> float:
    page.goto(url, wait_until="load")
    return float(
        page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.loadEventEnd - n.startTime; })()"
        )
    )


def _live(
    page: Any, npc: RawLspClient, db: str, sid: str, samples: int
) -> tuple[list[float], list[float]]:
    """Commits to ``sid`` (a task each) → (ms until the page shows it, ms until np serve's
    np/didChange), the same commits; ``page`` shows the plan with WATCH installed."""
    from store import NewTask, Store

    npc.drain_notifications()
    rng = random.Random(24)
    web_ms: list[float] = []
    serve_ms: list[float] = []
    with Store(db) as store:
        for i in range(samples):
            time.sleep(rng.uniform(0.05, 0.25))  # commits land anywhere in the poll
            with store.transaction("bench: np t a", "agent") as unit:
                unit.add_tasks(sid, [NewTask(f"live-{i}", "")])
                seq = unit.events[-1].seq
            wall, perf = time.time(), time.perf_counter()
            deadline = perf + 5
            arrived = None
            while arrived is None and time.perf_counter() < deadline:
                at, msg = npc.notifications.get(timeout=max(0.0, deadline - time.perf_counter()))
                if (msg.get("params") or {}).get("seq") == seq:
                    arrived = at
            if arrived is None:
                raise RuntimeError(f"no np/didChange for seq {seq}")
            serve_ms.append((arrived - perf) * 1000)
            shown = _poll(page, f"window.__seen['live-{i}']")
            web_ms.append(max(0.0, shown - wall * 1000))
    return web_ms, serve_ms


def _live_postgres(samples: int) -> Row:
    """The live figure on PostgreSQL (LISTEN/NOTIFY): a private cluster, both doors on it."""
    from playwright.sync_api import sync_playwright

    from bench.postgres import cluster, new_database
    from store import Store

    with cluster() as (server, _folder), workspace("web-pg") as base:
        url = new_database(server, "np_bench_web")
        project = base / "project"
        project.mkdir()
        with Store(url) as store, store.transaction("bench seed", "agent") as unit:
            sid = unit.start_session(str(project)).sid
            unit.set_goal(sid, "Live on PostgreSQL", "bench")
        env = {**os.environ, "NP_DB": url}
        web = subprocess.Popen(
            [*np_command(), "web", "--port", "0"],
            env=env,
            cwd=str(base),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        npc = RawLspClient([*np_command(), "serve"], env=env, cwd=base)
        try:
            assert web.stdout is not None
            link = next(line.strip() for line in web.stdout if "token=" in line)
            npc.initialize(base)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                )
                page = browser.new_page()
                page.goto(link)
                page.goto(f"{link.split('/?')[0]}/s/{sid}")
                page.evaluate(WATCH)
                _poll(
                    page,
                    "document.getElementById('link-status').textContent === 'live' || undefined",
                )
                web_ms, serve_ms = _live(page, npc, url, sid, samples)
                browser.close()
        finally:
            npc.close()
            web.terminate()
            web.wait(timeout=15)
    return Row(
        "np web on PostgreSQL: commit → visible in the browser p95 (p50 in notes)",
        percentile(web_ms, 95),
        "ms",
        "np serve commit → np/didChange p95, same commits",
        percentile(serve_ms, 95),
        ratio=percentile(web_ms, 95) / max(0.001, percentile(serve_ms, 95)),
        notes=[
            f"web p50 {median(web_ms):.1f} ms, serve p50 {median(serve_ms):.1f} ms, "
            f"n = {len(web_ms)}; loopback, both woken by LISTEN/NOTIFY"
        ],
    )


def measure(profile: Profile) -> list[Row]:
    if not os.path.exists(CHROMIUM):
        return [Row("np web", 0, "", notes=[f"not measured: no Chromium at {CHROMIUM}"])]
    from store import Store

    runs = {"full": 15, "quick": 7, "dry": 1}[profile.name]
    samples = {"full": 40, "quick": 15, "dry": 2}[profile.name]
    with workspace("web") as base:
        db = base / "np.db"
        env = np_env(db)
        _seed_many(db, base / "many", SESSIONS[profile.name])
        big_dir, small_dir = base / "big", base / "small"
        seed_session(db, big_dir, min(1000, profile.scale_tasks), profile.scale_events)
        seed_session(db, small_dir, 5, 10)
        with Store(str(db)) as store:
            big = store.find_active(str(big_dir))
            small = store.find_active(str(small_dir))
            assert big is not None and small is not None
            big_events = store.last_seq(big.sid)
        web = subprocess.Popen(
            [*np_command(), "web", "--port", "0"],
            env=env,
            cwd=str(base),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        npc = RawLspClient([*np_command(), "serve"], env=env, cwd=base)
        try:
            assert web.stdout is not None
            link = next(line.strip() for line in web.stdout if "token=" in line)
            origin = link.split("/?")[0]
            npc.initialize(base)
            rows = _measure(
                profile, runs, samples, link, origin, npc, web, db, big.sid, small.sid, big_events
            )
        finally:
            npc.close()
            web.terminate()
            web.wait(timeout=15)
    if profile.name != "dry":  # the smoke test starts no PostgreSQL cluster
        try:
            rows.append(_live_postgres(samples))
        except Exception as exc:
            rows.append(Row("np web on PostgreSQL", 0, "", notes=[f"not measured: {exc}"]))
    return rows


def _measure(
    profile: Profile,
    runs: int,
    samples: int,
    link: str,
    origin: str,
    npc: RawLspClient,
    web: subprocess.Popen[str],
    db: Path,
    big: str,
    small: str,
    big_events: int,
) -> list[Row]:
    from playwright.sync_api import sync_playwright

    rows: list[Row] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = browser.new_page()
        page.goto(link)
        cookie = next(c for c in page.context.cookies() if c["name"].startswith("np_web_"))
        # -- page load, interleaved with np serve's same reads --------------------------
        load: dict[str, list[float]] = {"list": [], "plan": [], "serve list": [], "serve plan": []}
        for i in range(runs + 1):
            a = _load_ms(page, f"{origin}/")
            b = _load_ms(page, f"{origin}/s/{big}")
            t0 = time.perf_counter()
            npc.execute("np.session.overview", {"limit": 50})
            t1 = time.perf_counter()
            npc.execute("np.plan", {"sid": big})
            npc.execute("np.events", {"sid": big, "after_seq": big_events - 50, "limit": 50})
            t2 = time.perf_counter()
            if i:  # the first round warms caches
                load["list"].append(a)
                load["plan"].append(b)
                load["serve list"].append((t1 - t0) * 1000)
                load["serve plan"].append((t2 - t1) * 1000)
        rows.append(
            Row(
                "np web: session list page load (50 of the sessions, Chromium)",
                median(load["list"]),
                "ms",
                "np serve np.session.overview (same page)",
                median(load["serve list"]),
                ratio=median(load["list"]) / median(load["serve list"]),
                notes=[f"n = {runs}, p95 {percentile(load['list'], 95):.1f} ms"],
            )
        )
        rows.append(
            Row(
                f"np web: plan page load, {big_events:,}-event session (Chromium)",
                median(load["plan"]),
                "ms",
                "np serve np.plan + np.events (newest 50)",
                median(load["serve plan"]),
                ratio=median(load["plan"]) / median(load["serve plan"]),
                notes=[f"n = {runs}, p95 {percentile(load['plan'], 95):.1f} ms"],
            )
        )
        serve_rss = _rss_peak(npc.proc.pid)  # before the whole log below
        # -- page weight ------------------------------------------------------------------
        req = urllib.request.Request(
            f"{origin}/s/{big}", headers={"Cookie": f"{cookie['name']}={cookie['value']}"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            page_bytes = len(resp.read())
        whole = npc.execute("np.events", {"sid": big}, timeout=120)
        log_bytes = len(json.dumps(whole["result"]).encode())
        rows.append(
            Row(
                f"np web: plan page bytes, {big_events:,}-event session",
                page_bytes / 1024,
                "KB",
                "its whole log as np.events JSON",
                log_bytes / 1024,
                ratio=page_bytes / log_bytes,
                notes=["the page shows the newest 50 events and pages back by seq"],
            )
        )
        # -- live update beside np/didChange ----------------------------------------------
        page.goto(f"{origin}/s/{small}")
        page.evaluate(WATCH)
        _poll(page, "document.getElementById('link-status').textContent === 'live' || undefined")
        web_ms, serve_ms = _live(page, npc, str(db), small, samples)
        rows.append(
            Row(
                "np web: commit → visible in the browser p95 (p50 in notes)",
                percentile(web_ms, 95),
                "ms",
                "np serve commit → np/didChange p95, same commits",
                percentile(serve_ms, 95),
                ratio=percentile(web_ms, 95) / max(0.001, percentile(serve_ms, 95)),
                notes=[
                    f"web p50 {median(web_ms):.1f} ms, serve p50 {median(serve_ms):.1f} ms, "
                    f"n = {len(web_ms)}; SQLite, both polling data_version every 100 ms"
                ],
            )
        )
        browser.close()
    rows.append(
        Row(
            "np web: peak memory (RSS) after the pages above",
            _rss_peak(web.pid),
            "MB",
            "np serve after the same reads",
            serve_rss,
            ratio=_rss_peak(web.pid) / serve_rss,
            notes=[
                f"{SESSIONS[profile.name]:,} sessions of 3 tasks plus one of "
                f"{big_events:,} events in one SQLite file"
            ],
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args(argv)
    profile = PROFILES["dry" if args.dry_run else "quick" if args.quick else "full"]
    for row in measure(profile):
        print(
            f"{row.name}: {row.figure()} | {row.baseline_figure()} | {row.ratio_text()}"
            + "".join(f"\n    {n}" for n in row.notes)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
