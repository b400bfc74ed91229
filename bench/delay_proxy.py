"""A loopback proxy that adds a round-trip time: a stand-in for a network (this machine's
kernel has no netem).

It accepts connections on a Unix socket (or a loopback TCP port) and forwards each to a
target (a Unix socket path or ``host:port``), holding every chunk for half the round trip
in each direction, in order. A PostgreSQL client reaches it with ``host=<socket folder>``
when the socket is named ``.s.PGSQL.<port>``.

    python -m bench.delay_proxy --listen /tmp/d/.s.PGSQL.5432 --to /tmp/pg/.s.PGSQL.5432 --rtt-ms 12

Or in-process: ``with DelayProxy(listen, target, rtt=0.012): …`` runs it on a thread.

It also counts round trips at the protocol: a *flight* is a chunk from a client that
arrives after the server last spoke on that connection (or opens it) and that the server
answers, i.e. one round trip the client waited for (the lab's tapswitch counts the same
way). A flight is counted when its answer reaches the proxy, before the client sees it, so
a client that has its answer has been counted; a last chunk nobody waits for (PostgreSQL's
Terminate, TLS's close_notify and the server's close_notify after it) is not a round trip.
``DelayProxy.flights`` is the total over all connections since the proxy started (or since
:meth:`DelayProxy.reset`). With a few milliseconds of delay the count is exact: a client's
pipelined writes all reach the proxy before any answer can.

Over TCP, ``handshake=True`` also adds TCP's own round trip (SYN, SYN-ACK) to each new
connection: the client's first bytes wait one more round trip, and it counts as a flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def _opener(target: str) -> Opener:
    if target.startswith("/"):
        return lambda: asyncio.open_unix_connection(target)
    host, _, port = target.rpartition(":")
    return lambda: asyncio.open_connection(host or "127.0.0.1", int(port))


class Flights:
    """Round trips clients waited for, counted at the protocol (see the module docstring)."""

    def __init__(self) -> None:
        self.count = 0
        self.paused = False  # True: stop forwarding (a link that went silent)


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    on_chunk: Callable[[bytes], None] = lambda data: None,
    stats: Flights | None = None,
) -> None:
    """Copy ``reader`` to ``writer``, each chunk delivered ``delay`` seconds after it
    arrived (chunks keep their order; a slow chunk never delays a later one further);
    ``on_chunk`` is called as each chunk arrives, and with ``b""`` at the end of the
    stream. While ``stats.paused``, nothing moves."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            while stats is not None and stats.paused:
                await asyncio.sleep(0.01)
            if not data:
                with contextlib.suppress(OSError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(65536):
            on_chunk(data)
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    on_chunk(b"")
    queue.put_nowait((loop.time() + delay, b""))
    with contextlib.suppress(ConnectionError, OSError):
        await sender


async def serve(
    listen: str,
    target: str,
    rtt: float,
    ready: threading.Event | None = None,
    stats: Flights | None = None,
    handshake: bool = False,
) -> None:
    """Proxy ``listen`` → ``target`` with ``rtt`` seconds of added round trip, forever,
    counting client flights into ``stats`` (and each connection's TCP handshake as one
    more round trip when ``handshake``)."""
    open_target = _opener(target)
    flights = stats if stats is not None else Flights()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if handshake:  # SYN → SYN-ACK: the client's first bytes leave one round trip later
            flights.count += 1
            await asyncio.sleep(rtt)
        try:
            server_r, server_w = await open_target()
        except OSError:
            client_w.close()
            return
        # The client spoke since the server last did (a flight in the air); the client
        # closed its side (what the server sends then, e.g. TLS's close_notify, nobody
        # waits for).
        waiting, closed = [False], [False]

        def from_client(data: bytes) -> None:
            waiting[0] = True
            closed[0] = not data

        def from_server(data: bytes) -> None:
            if waiting[0] and data and not closed[0]:
                flights.count += 1
                waiting[0] = False

        try:
            await asyncio.gather(
                _pump(client_r, server_w, rtt / 2, from_client, flights),
                _pump(server_r, client_w, rtt / 2, from_server, flights),
                return_exceptions=True,
            )
        except asyncio.CancelledError:
            pass  # shutting down: end quietly (asyncio reports a cancelled handler)
        finally:
            for w in (client_w, server_w):
                with contextlib.suppress(OSError):
                    w.close()

    if listen.startswith("/"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(listen)
        server = await asyncio.start_unix_server(handle, listen)
    else:
        host, _, port = listen.rpartition(":")
        server = await asyncio.start_server(handle, host or "127.0.0.1", int(port))
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


class DelayProxy:
    """Run :func:`serve` on a daemon thread for the life of a ``with`` block."""

    def __init__(self, listen: str, target: str, rtt: float, *, handshake: bool = False) -> None:
        self.listen, self.target, self.rtt, self.handshake = listen, target, rtt, handshake
        self.stats = Flights()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None]

    def __enter__(self) -> DelayProxy:
        ready = threading.Event()

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._task = loop.create_task(
                serve(self.listen, self.target, self.rtt, ready, self.stats, self.handshake)
            )
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            if rest:

                async def drain() -> None:
                    await asyncio.gather(*rest, return_exceptions=True)

                loop.run_until_complete(drain())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="delay-proxy")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    @property
    def flights(self) -> int:
        """Round trips clients waited for since the start or the last :meth:`reset`."""
        return self.stats.count

    def reset(self) -> None:
        self.stats.count = 0

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) forwarding in both directions: a link that went silent."""
        self.stats.paused = paused

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="Unix socket path or host:port")
    parser.add_argument("--to", required=True, help="Unix socket path or host:port")
    parser.add_argument("--rtt-ms", type=float, default=12.0, help="added round trip, ms")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.to, args.rtt_ms / 1000))


if __name__ == "__main__":
    main()
