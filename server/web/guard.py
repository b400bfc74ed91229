"""What keeps ``np web`` safe by default: a secret token on every request, and a same-origin
check on every request that changes something.

* The token is random (``secrets.token_urlsafe``), printed once in the URL ``np web`` shows
  (as Jupyter does). The first visit with ``?token=`` trades it for a cookie (HttpOnly,
  SameSite=Strict) and is redirected to the same address without it, so the token leaves
  the address bar and the browser's history. Every request — pages, the live stream, the
  static files — needs the cookie (or the ``X-NP-Token`` header): without it, 403.
* A request that changes something (any method but GET and HEAD) needs the cookie or
  header, never the query, and an ``Origin`` (else ``Referer``) that is this very server:
  no page of another site can post a change, even with the browser's cookie.
* On the loopback interface the ``Host`` header must name a loopback host (any port, so an
  SSH forward to another local port works): a DNS-rebinding page that reaches 127.0.0.1
  under its own name is refused before anything else.

Pure ASGI (no per-request task as ``BaseHTTPMiddleware`` makes), so the live stream
passes through untouched. The token is never logged (the server's access log is off).
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _host_name(host: str) -> str:
    """``localhost:8765`` → ``localhost``; ``[::1]:8765`` → ``[::1]``."""
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _refused(status: int, title: str, text: str) -> Response:
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>np web: {title}</title><body style='font-family:sans-serif;margin:2rem'>"
        f"<h1>{title}</h1><p>{text}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


class Guard:
    """ASGI middleware in front of the whole app (see the module docstring)."""

    def __init__(self, app: ASGIApp, token: str, cookie: str, *, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie
        self.loopback_only = loopback_only
        self.refused = 0  # requests refused (for tests and the log's totals)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        response = self.check(scope)
        if response is not None:
            self.refused += 1
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> Response | None:
        """None when the request may pass; else the response that refuses it."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.loopback_only and _host_name(host).lower() not in LOOPBACK_NAMES:
            return _refused(
                400,
                "Unknown host name",
                "np web answers only to 127.0.0.1, localhost or [::1] on this port.",
            )
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:
            cookies = SimpleCookie()
        morsel = cookies.get(self.cookie)
        by_cookie = self._matches(morsel.value if morsel is not None else None)
        by_header = self._matches(headers.get("x-np-token"))
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        given = [v for k, v in query if k == "token"]
        method = scope.get("method", "GET")
        if method in SAFE_METHODS and given and self._matches(given[-1]):
            # The printed link: trade the token for the cookie and drop it from the URL.
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            path = "/" + str(scope.get("path", "/")).lstrip("/")  # never "//host": no open redirect
            target = path + (f"?{rest}" if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            redirect.headers["Cache-Control"] = "no-store"
            redirect.headers["Referrer-Policy"] = "no-referrer"
            return redirect
        if not (by_cookie or by_header):
            return _refused(
                403,
                "This page needs np web's link",
                "Open the address <code>np web</code> printed when it started (it carries a "
                "secret token), or start it again for a new one.",
            )
        if method not in SAFE_METHODS and not self._same_origin(headers, host, scope):
            return _refused(
                403,
                "Refused: not from this page",
                "A change must come from np web's own page; this request came from another "
                "site (or said nowhere where it came from), so nothing was changed.",
            )
        return None

    @staticmethod
    def _same_origin(headers: Headers, host: str, scope: Scope) -> bool:
        scheme = "https" if scope.get("scheme") == "https" else "http"
        own = f"{scheme}://{host}".lower()
        origin = headers.get("origin")
        if origin is None or origin == "null":
            referer = headers.get("referer")
            if referer is None or origin == "null":
                return False
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        return origin.lower() == own


def security_headers() -> dict[str, Any]:
    """Headers on every page: no framing, no sniffing, nothing loaded from elsewhere."""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "style-src-attr 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
