"""``np web``'s pages and actions: a Starlette app over the command table.

Every read and every change is a command of the table (``server.commands``), run by the
door-neutral :class:`~server.commands.runner.Runner` (writes one after another on their own
thread and connection, reads on another), so the operator's page follows the same rules as
every door: a reason when failing or cancelling a task, a reason for every edit, an archived
session refuses changes. Changes are recorded with the operator's actor name.

Pages are rendered on the server (Jinja2, autoescaped); ``static/live.js`` (vanilla, no
build step) follows ``/live``, a server-sent-events stream fed by the store's change feed
(:class:`~server.commands.follow.Follower`: ``data_version`` on SQLite, LISTEN/NOTIFY on
PostgreSQL), and swaps in the fresh ``#live`` part of the page when the plan it shows
changed. Forms post without JavaScript too (post, then redirect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.commands import Context, execute
from server.commands.follow import Follower
from server.commands.runner import Runner, SavedButFailed
from server.text.render import event_details, receipt_text, short_time
from store import InvalidArgument, NpError, Status
from store.feed import Change

from .guard import Guard, security_headers

log = logging.getLogger("np.web")

EVENTS_PAGE = 50  # events shown per page of a plan's log (never the whole log)
SESSIONS_PAGE = 50  # sessions per page of the list
FORM_LIMIT = 256 * 1024  # the largest form body accepted, in bytes
QUEUE_LIMIT = 64  # live messages kept per browser that reads slowly; then one resync
STATUSES = [(str(s), s.glyph, s.label) for s in Status]


class Hub:
    """The open live streams; each gets every batch of changes (a slow reader that falls
    behind gets one "resync" instead of an ever-growing queue)."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[str]] = set()

    def publish(self, changes: list[Change]) -> None:
        data = json.dumps([{"sid": c.sid, "seq": c.seq, "type": str(c.type)} for c in changes])
        for queue in list(self.queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait("resync")
            else:
                queue.put_nowait(data)

    async def stream(self) -> AsyncIterator[dict[str, str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self.queues.add(queue)
        try:
            yield {"event": "hello", "data": "{}"}
            while True:
                data = await queue.get()
                yield {"event": "change", "data": data}
        finally:
            self.queues.discard(queue)


class Web:
    """One ``np web`` server: its database door, its change feed and its pages."""

    def __init__(self, db_path: str, actor: str, db_label: str) -> None:
        self.db_path = db_path
        self.actor = actor
        self.db_label = db_label
        self.runner = Runner(db_path)
        self.hub = Hub()
        self.follower = Follower(db_path, self.hub.publish)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("server.web", "templates"),
            autoescape=True,
        )
        self.templates.filters["when"] = lambda at: short_time(at) if at else ""
        self.templates.globals.update(
            statuses=STATUSES, glyphs={k: g for k, g, _ in STATUSES}, actor=actor, db_label=db_label
        )

    # -- commands ---------------------------------------------------------------------------

    async def call(
        self, name: str, args: dict[str, Any], *, writes: bool = False, looks: bool = False
    ) -> Any:
        """Run table command ``name`` as the operator when it writes (recorded as
        ``web:<name>``) or ``looks``: the plan and task pages show the operator a plan,
        so what they show is marked seen, and a change the operator then makes is an
        informed one (no ``changed_since_seen``); the session list and the log pages mark
        nothing."""
        actor = self.actor if writes or looks else None

        def job(store: Any) -> Any:
            ctx = Context(store, None, f"web:{name}", door="json", actor=actor)
            return execute(name, ctx, args)

        return await self.runner.run(writes, job)

    # -- rendering --------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        status: int = 200,
        *,
        here: str | None = None,
        **values: Any,
    ) -> Response:
        """Render ``name`` (only its live part for the page's own refresh). ``here`` is the
        address the page refreshes from: the request's own, except after a refused form,
        whose page was answered at the form's (POST-only) address."""
        template = self.templates.get_template(name)
        if here is None:
            query = request.url.query
            here = request.url.path + (f"?{query}" if query else "")
        values = {"request": request, "here": here, **values}
        if request.headers.get("x-np-partial") == "live":
            body = "".join(template.blocks["live"](template.new_context(values)))
        else:
            body = template.render(values)
        return HTMLResponse(body, status_code=status, headers=security_headers())

    # -- pages ------------------------------------------------------------------------------

    async def sessions(self, request: Request) -> Response:
        state = request.query_params.get("state", "active")
        if state not in ("active", "archived", "all"):
            state = "active"
        offset = _whole(request.query_params.get("offset"), 0)
        try:
            found = await self.call(
                "np.session.overview", {"state": state, "limit": SESSIONS_PAGE, "offset": offset}
            )
        except NpError as exc:
            return self.page(request, "error.html", 503, message=exc.message)
        return self.page(
            request,
            "sessions.html",
            sessions=found["sessions"],
            total=found["total"],
            offset=offset,
            page_size=SESSIONS_PAGE,
            state=state,
        )

    async def plan(
        self,
        request: Request,
        error: str | None = None,
        status: int = 200,
        form: Any = None,
        here: str | None = None,
    ) -> Response:
        sid = request.path_params["sid"]
        before = _whole(request.query_params.get("before"), 0)
        try:
            plan = await self.call("np.plan", {"sid": sid}, looks=before == 0)
            total = int((await self.call("np.events", {"sid": sid, "limit": 1}))["total"])
            top = min(before - 1, total) if before > 0 else total
            shown = min(EVENTS_PAGE, max(top, 0))
            events = []
            if shown:
                found = await self.call(
                    "np.events", {"sid": sid, "after_seq": top - shown, "limit": shown}
                )
                events = list(reversed(found["events"]))
        except NpError as exc:
            if exc.data.get("field") == "sid":
                return self.page(request, "error.html", 404, message=exc.message)
            return self.page(request, "error.html", 503, message=exc.message)
        return self.page(
            request,
            "plan.html",
            status,
            here=here,
            plan=plan,
            session=plan["session"],
            events=[{**e, "summary": _summary(e), "receipt": _receipt(e)} for e in events],
            total_events=total,
            older=top - shown if top - shown > 0 else None,
            newer=(top + EVENTS_PAGE + 1) if top < total else None,
            error=error,
            form=form or {},
        )

    async def task(
        self,
        request: Request,
        error: str | None = None,
        status: int = 200,
        form: Any = None,
        here: str | None = None,
    ) -> Response:
        """One task with the forms that change it (the plan page lists tasks without forms:
        a thousand tasks' forms would make the page heavy for a browser)."""
        sid = request.path_params["sid"]
        task_id = request.path_params.get("tid") or (form or {}).get("id", "")
        try:
            found = await self.call("np.task.list", {"sid": sid, "ids": [task_id]}, looks=True)
            head = await self.call("np.session.overview", {"sid": sid})
        except NpError as exc:
            code = 404 if exc.data.get("field") in ("sid", "ids") else 503
            return self.page(request, "error.html", code, message=exc.message)
        entry = head["sessions"][0]
        return self.page(
            request,
            "task.html",
            status,
            here=here,
            task=found["tasks"][0],
            session=entry,
            goal_title=entry["goal_title"],
            error=error,
            form=form or {},
        )

    async def export(self, request: Request) -> Response:
        sid = request.path_params["sid"]
        fmt = request.query_params.get("format", "markdown")
        try:
            found = await self.call("np.export", {"sid": sid, "format": fmt})
        except NpError as exc:
            return PlainTextResponse(exc.message, status_code=400, headers=security_headers())
        kind = "application/json" if found["format"] == "json" else "text/markdown"
        ext = "json" if found["format"] == "json" else "md"
        headers = {
            **security_headers(),
            "Content-Disposition": f'inline; filename="np-{sid}.{ext}"',
        }
        return Response(found["content"], media_type=f"{kind}; charset=utf-8", headers=headers)

    async def live(self, request: Request) -> Response:
        return EventSourceResponse(
            self.hub.stream(), ping=15, headers={"Cache-Control": "no-store"}
        )

    # -- actions ----------------------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """One operator action from a form: the command it names, with a reason where the
        rules want one; then back to the plan (or the page again, with the error)."""
        sid = request.path_params["sid"]
        action = request.path_params["action"]
        body = await request.body()
        if len(body) > FORM_LIMIT:
            return PlainTextResponse("The form is too large.", status_code=413)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        build = ACTIONS.get(action)
        if build is None:
            return PlainTextResponse("No such action.", status_code=404)
        try:
            name, args = build(sid, form)
            await self.call(name, args, writes=True)
        except NpError as exc:
            # A refused blind override carries what changed meanwhile, worded as the notice.
            notice = exc.data.get("notice")
            error = f"{exc.message}\n{notice}" if isinstance(notice, str) else exc.message
            if action in ("status", "edit", "answer"):
                here = f"/s/{sid}/t/{form.get('id', '')}"
                return await self.task(request, error, 400, form, here)
            return await self.plan(request, error, 400, form, f"/s/{sid}")
        except SavedButFailed:
            pass  # the change is saved; the plan page shows it as it is now
        target = "/" if action == "archive" else f"/s/{sid}"
        anchor = f"#task-{form['id']}" if form.get("id") and action != "archive" else ""
        return RedirectResponse(target + anchor, status_code=303)


def _whole(text: str | None, default: int) -> int:
    try:
        return max(0, int(text)) if text is not None else default
    except ValueError:
        return default


def _summary(event: dict[str, Any]) -> str:
    from store import Event, EventType

    try:
        return event_details(
            Event(
                sid=event["sid"],
                seq=event["seq"],
                at=event["at"],
                type=EventType(event["type"]),
                payload=event["payload"],
                reason=event["reason"],
                cmd=event["cmd"],
                actor=event["actor"],
            )
        )
    except Exception:
        return str(event["type"]).replace("_", " ")


def _receipt(event: dict[str, Any]) -> str:
    """Who of the actors working on the plan has seen this change, and when (np log's words)."""
    from store.receipts import Receipt

    try:
        return receipt_text([Receipt(**r) for r in event.get("receipts") or []])
    except (TypeError, KeyError):
        return ""


def _text(form: dict[str, str], key: str) -> str | None:
    """A form field as a command wants it: absent or blank → None (the command decides)."""
    value = form.get(key)
    return value if value is not None and value.strip() else None


def _new_task(form: dict[str, str]) -> dict[str, Any]:
    """The add form's task: title, description, and the ids it waits for (comma or space
    separated; the command checks them)."""
    task: dict[str, Any] = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
    }
    after = [i for i in form.get("after", "").replace(",", " ").split() if i]
    if after:
        task["after"] = after
    return task


def _confirm_archive(sid: str, form: dict[str, str]) -> tuple[str, dict[str, Any]]:
    if form.get("confirm") != "yes":
        raise InvalidArgument(
            "Tick the box to confirm: archiving ends the session for every agent.",
            field="confirm",
        )
    return "np.session.archive", {"sid": sid}


ACTIONS: dict[str, Callable[[str, dict[str, str]], tuple[str, dict[str, Any]]]] = {
    "status": lambda sid, f: (
        "np.task.update",
        {
            "sid": sid,
            "updates": [
                {
                    "id": f.get("id", ""),
                    "status": f.get("status", ""),
                    **({"take_over": True} if f.get("take_over") == "yes" else {}),
                }
            ],
            "reason": _text(f, "reason"),
        },
    ),
    "edit": lambda sid, f: (
        "np.task.edit",
        {
            "sid": sid,
            "id": f.get("id", ""),
            "title": _text(f, "title"),
            "description": f.get("description"),
            "reason": _text(f, "reason"),
        },
    ),
    "add": lambda sid, f: ("np.task.add", {"sid": sid, "tasks": [_new_task(f)]}),
    "goal": lambda sid, f: (
        "np.goal.change",
        {
            "sid": sid,
            "title": _text(f, "title"),
            "description": f.get("description"),
            "reason": _text(f, "reason"),
        },
    ),
    "answer": lambda sid, f: (
        "np.task.answer",
        {"sid": sid, "id": f.get("id", ""), "answer": f.get("answer", "")},
    ),
    "archive": _confirm_archive,
}


def build_app(web: Web, token: str, cookie: str, *, loopback_only: bool) -> Any:
    static = resources.files("server.web") / "static"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        web.follower.start()
        try:
            yield
        finally:
            await web.follower.stop()

    app = Starlette(
        routes=[
            Route("/", web.sessions),
            Route("/live", web.live),
            Route("/s/{sid}", web.plan),
            Route("/s/{sid}/export", web.export),
            Route("/s/{sid}/t/{tid}", web.task),
            Route("/s/{sid}/{action}", web.act, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(static)), name="static"),
        ],
        lifespan=lifespan,
    )
    return Guard(app, token, cookie, loopback_only=loopback_only)
