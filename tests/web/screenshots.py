"""The README's pictures of ``np web`` (``make web-screenshots``): a few agents' plans on a
fresh database, the real ``np web``, Debian's Chromium. Writes docs/screenshots/web-*.png.

    python -m tests.web.screenshots
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
NP = [str(Path(sys.executable).parent / "np")]


def _np(env: dict[str, str], cwd: Path, actor: str, *args: str) -> None:
    subprocess.run(
        [*NP, *args], cwd=cwd, env={**env, "NP_ACTOR": actor}, check=True, capture_output=True
    )


def _task_ids(env: dict[str, str], cwd: Path) -> list[str]:
    import json

    out = subprocess.run(
        [*NP, "p", "--json"], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout
    return [t["id"] for t in json.loads(out)["tasks"]]


def seed(base: Path, env: dict[str, str]) -> Path:
    api = base / "payments-api"
    web = base / "storefront"
    docs = base / "handbook"
    for d in (api, web, docs):
        d.mkdir()
    _np(env, docs, "claude-code", "s")
    _np(env, docs, "claude-code", "g", "s", "-t", "Document the on-call rota", "-d", "Issue 88")
    _np(env, docs, "claude-code", "t", "a", "-t", "Draft the rota page", "-t", "Link from README")
    _np(env, web, "codex", "s")
    _np(env, web, "codex", "g", "s", "-t", "Checkout: show delivery dates", "-d", "Issue 412")
    _np(
        env,
        web,
        "codex",
        "t",
        "a",
        "-t",
        "Read dates from the API",
        "-t",
        "Render on the cart",
        "-t",
        "Snapshot tests",
    )
    ids = _task_ids(env, web)
    _np(
        env,
        web,
        "codex",
        "t",
        "u",
        "-i",
        ids[0],
        "-s",
        "completed",
        "-i",
        ids[1],
        "-s",
        "in_progress",
    )
    _np(env, api, "claude-code", "s")
    _np(
        env,
        api,
        "claude-code",
        "g",
        "s",
        "-t",
        "Retry failed card payments safely",
        "-d",
        "Issue 311: a declined-then-retried payment must never charge twice. Use the "
        "idempotency key from the gateway; keep the retry queue in PostgreSQL.",
    )
    _np(
        env,
        api,
        "claude-code",
        "t",
        "a",
        "-t",
        "Reproduce the double charge",
        "-d",
        "Integration test against the sandbox",
        "-t",
        "Idempotency key on every charge",
        "-t",
        "Retry queue with backoff",
        "-t",
        "Move retries to the gateway's webhook",
        "-t",
        "Alert on a second charge",
    )
    ids = _task_ids(env, api)
    _np(
        env,
        api,
        "claude-code",
        "t",
        "u",
        "-i",
        ids[0],
        "-s",
        "completed",
        "-i",
        ids[1],
        "-s",
        "completed",
        "-i",
        ids[2],
        "-s",
        "in_progress",
    )
    _np(
        env,
        api,
        "claude-code",
        "t",
        "u",
        "-i",
        ids[3],
        "-s",
        "cancelled",
        "-r",
        "The gateway's webhooks are not ordered; the queue stays",
    )
    _np(
        env,
        api,
        "operator",
        "t",
        "e",
        "-i",
        ids[4],
        "-t",
        "Alert on any second charge in 24 h",
        "-r",
        "Cover late retries too",
    )
    return api


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="np-web-shots-"))
    env = {**os.environ, "NP_DB": str(base / "np.db")}
    env.pop("NP_ACTOR", None)
    try:
        projects = base / "work"
        projects.mkdir()
        seed(projects, env)
        web = subprocess.Popen(
            [*NP, "web", "--port", "0"], env=env, cwd=base, stdout=subprocess.PIPE, text=True
        )
        try:
            assert web.stdout is not None
            link = next(line.strip() for line in web.stdout if "token=" in line)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                )
                page = browser.new_page(viewport={"width": 1000, "height": 720})
                page.goto(link)
                page.screenshot(path=str(OUT / "web-sessions.png"))
                page.get_by_role("link", name="Retry failed card payments safely").click()
                page.wait_for_selector("#goal-h")
                page.screenshot(path=str(OUT / "web-plan.png"), full_page=True)
                phone = browser.new_page(viewport={"width": 390, "height": 844})
                phone.context.add_cookies(page.context.cookies())
                phone.goto(page.url)
                phone.screenshot(path=str(OUT / "web-phone.png"))
                browser.close()
        finally:
            web.terminate()
            web.wait(timeout=15)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for name in ("web-sessions.png", "web-plan.png", "web-phone.png"):
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
