"""``np web``: the operator's live page for every agent's plan, in a browser.

A small local web server (Starlette on uvicorn; the ``web`` extra, imported only by this
command) serving pages rendered on the server (``app``), safe by default (``guard``): it
listens on 127.0.0.1, and the address it prints carries a random token that every request
needs; changes also need a same-origin request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re
import secrets
import socket
import sys

from server.exits import EXIT_OK, EXIT_USAGE

log = logging.getLogger("np.web")

# NP_WEB_TOKEN: a fixed token instead of a random one, so that a restarted np web keeps its
# open pages (they reconnect by themselves) and bookmarked links working.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,200}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _missing_extra() -> int:
    from store.install import install_hint

    sys.stderr.write(
        "np: np web needs the web extra (Starlette, uvicorn, Jinja2), which is not installed; "
        f"install it: {install_hint('web')}.\n"
    )
    return EXIT_USAGE


def serve(db_path: str, host: str, port: int, actor: str) -> int:
    """Serve the page for the database at ``db_path`` on ``host``:``port`` (0: any free
    port) until interrupted; print the address (with the token) on standard output."""
    try:
        import uvicorn

        from .app import Web, build_app
    except ImportError:
        return _missing_extra()
    from store.url import shown

    given = os.environ.get("NP_WEB_TOKEN", "")
    if given and not TOKEN_SHAPE.fullmatch(given):
        sys.stderr.write(
            "np: NP_WEB_TOKEN must be 32 to 200 characters of letters, digits, - and _ "
            "(e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(32))').\n"
        )
        return EXIT_USAGE
    loopback = _loopback(host)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        sys.stderr.write(f"np: np web cannot listen on {host}:{port}: {exc.strerror}.\n")
        return EXIT_USAGE
    sock.listen(128)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]
    token = os.environ.get("NP_WEB_TOKEN", "") or secrets.token_urlsafe(32)
    shown_db = shown(db_path)
    web = Web(db_path, actor, shown_db)
    app = build_app(web, token, f"np_web_{bound}", loopback_only=loopback)
    name = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    if not loopback:
        sys.stderr.write(
            f"np: warning: np web listens on {host}, reachable from other machines. Anyone "
            "who has the link below can read and change every plan, and plain HTTP is not "
            "encrypted: prefer the default (127.0.0.1) with SSH port forwarding.\n"
        )
    sys.stdout.write(
        f"np web: serving {shown_db} as {actor!r}\n"
        f"Open this address (it carries the access token; keep it private):\n"
        f"    http://{name}:{bound}/?token={token}\n"
    )
    sys.stdout.flush()
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # the first request's URL carries the token: never logged
        timeout_graceful_shutdown=2,  # open live streams do not hold the exit
        lifespan="on",
    )
    server = uvicorn.Server(config)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        web.runner.close()
        sock.close()
    return EXIT_OK
