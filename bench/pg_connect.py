"""What connecting costs a CLI command on PostgreSQL across a network, and what each way of
cutting it saves (issue 19): round trips (counted at the protocol) and wall time at 0, 12
and 50 ms of added round trip, for a bare connect and for ``np t u -i ID -s completed``.

A private cluster is started for the run with ``ssl=on`` (a self-signed certificate made at
run time with the ``openssl`` CLI, for ``127.0.0.1``) and ``scram-sha-256`` over TCP on
loopback; ``bench/delay_proxy.py`` stands in for the network (TCP, with TCP's own handshake
as one more round trip). The ways measured (README, "Sharing plans across machines",
picks the pooler):

- ``tcp-trust``: TCP, no TLS, no password (a floor for connecting over TCP);
- ``tls-scram``: TLS ``verify-full`` + SCRAM, what the README recommended before;
- ``tls-p256``: the same with OpenSSL told (``OPENSSL_CONF``) to offer the P-256 key share
  first, which PostgreSQL up to 17 takes without a HelloRetryRequest;
- ``tls-direct``: the same with ``sslnegotiation=direct`` (libpq 17+, server 17+): tried,
  and reported as refused when the server is older;
- ``tls-cert``: TLS ``verify-full`` with a client certificate instead of SCRAM;
- ``pgbouncer``: a PgBouncer on the CLI's machine (session pooling), reached over a Unix
  socket, keeping a TLS + SCRAM connection to the far server open;
- ``door``: the same write through a long-lived np process (``np serve``/``np mcp``'s write
  path: the command table on an open TLS + SCRAM connection), in process.

TLS session resumption is not measured: PostgreSQL's server turns session tickets and its
session cache off (``be-secure-openssl.c``), and libpq keeps no session across processes.

    .venv/bin/python -m bench.pg_connect [--runs N] [--rtts 0,12,50]

Run by hand; needs ``openssl`` and, for the pooler row, ``pgbouncer`` (Debian's package).
Not pass/fail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.delay_proxy import DelayProxy
from bench.postgres import cluster, new_database

PASSWORD = "np-bench-secret"
CERT_USER = "np_cert"  # logs in with a TLS client certificate, no password
DATABASE = "np_conn"
WAYS = ("tcp-trust", "tls-scram", "tls-p256", "tls-direct", "tls-cert", "pgbouncer", "door")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owned_by_postgres(*paths: Path) -> None:
    """As root the cluster (and PgBouncer) run as ``postgres``: let them read their files."""
    if os.getuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)


def _openssl(command: str, *paths: Path) -> None:
    """Run ``openssl`` with ``command`` (split on spaces) and ``paths`` filled in for
    its ``{}`` placeholders."""
    words = command.split()
    filled = iter(paths)
    subprocess.run(
        ["openssl", *(str(next(filled)) if w == "{}" else w for w in words)],
        check=True,
        capture_output=True,
    )


def tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), its key, a client certificate
    for CERT_USER signed by it, an OpenSSL configuration that offers P-256 first, and
    pg_hba.conf: TCP without TLS may log in without a password; TLS asks for SCRAM (or the
    client certificate, for CERT_USER)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key, hba = folder / "server.crt", folder / "server.key", folder / "pg_hba.conf"
    client_key, request = folder / "client.key", folder / "client.csr"
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    _openssl(
        f"req -x509 {ec} -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
        " -keyout {} -out {}",
        key,
        cert,
    )
    key.chmod(0o600)
    _openssl(f"req -new {ec} -subj /CN={CERT_USER} -keyout {{}} -out {{}}", client_key, request)
    _openssl(
        "x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -out {}",
        request,
        cert,
        key,
        folder / "client.crt",
    )
    client_key.chmod(0o600)
    (folder / "p256.cnf").write_text(
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
        "[ssl_sect]\nsystem_default = system_default_sect\n"
        "[system_default_sect]\nGroups = P-256:X25519\n"
    )
    hba.write_text(
        "local all all trust\n"
        "hostnossl all all 127.0.0.1/32 trust\n"
        f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    )
    _owned_by_postgres(folder, cert, key, hba)
    return cert, key, hba


@contextlib.contextmanager
def tls_cluster(folder: Path) -> Iterator[tuple[str, int, Path]]:
    """(maintenance URL on the Unix socket, TCP port, CA file) of a private cluster with
    ``ssl=on`` and a SCRAM password for ``np``."""
    import psycopg

    cert, key, hba = tls_files(folder / "tls")
    port = _free_port()
    settings = (
        "listen_addresses=127.0.0.1",
        f"port={port}",
        "ssl=on",
        f"ssl_cert_file={cert}",
        f"ssl_key_file={key}",
        f"ssl_ca_file={cert}",
        f"hba_file={hba}",
        "password_encryption=scram-sha-256",
    )
    with cluster(*settings) as (socket_url, _):
        server = f"{socket_url}&port={port}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"ALTER ROLE np PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE ROLE {CERT_USER} LOGIN")
        yield server, port, cert


PGBOUNCER_PORT = 6432


def pgbouncer_ini(
    folder: Path,
    databases: dict[str, str],
    *,
    users: tuple[str, ...] = ("np",),
    pool_mode: str = "session",
    ignore_options: bool = True,
    tls_ca: Path | None = None,
) -> Path:
    """A PgBouncer as README, "Sharing plans across machines" sets it up on the CLI's
    machine: Unix socket only (in ``folder``), no password between np and it, session
    pooling, np's startup options ignored, TLS ``verify-full`` to the server when
    ``tls_ca`` is given. ``databases`` maps a name to its libpq-style target line."""
    folder.mkdir(parents=True, exist_ok=True)
    userlist = folder / "userlist.txt"
    userlist.write_text("".join(f'"{user}" ""\n' for user in users))
    ini = folder / "pgbouncer.ini"
    lines = ["[databases]", *(f"{name} = {target}" for name, target in databases.items())]
    lines += [
        "[pgbouncer]",
        "listen_addr =",
        f"listen_port = {PGBOUNCER_PORT}",
        f"unix_socket_dir = {folder}",
        "auth_type = trust",
        f"auth_file = {userlist}",
        f"admin_users = {users[0]}",
        f"pool_mode = {pool_mode}",
        f"logfile = {folder}/pgbouncer.log",
    ]
    if ignore_options:
        lines.append("ignore_startup_parameters = options")
    if tls_ca is not None:
        lines += ["server_tls_sslmode = verify-full", f"server_tls_ca_file = {tls_ca}"]
    ini.write_text("\n".join(lines) + "\n")
    _owned_by_postgres(folder, userlist, ini)
    return ini


@contextlib.contextmanager
def pgbouncer(ini: Path) -> Iterator[str]:
    """PgBouncer running ``ini`` until the block ends; yields the query part of a URL
    that reaches it (``host=…&port=…``)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    folder = ini.parent
    user = ["-u", "postgres"] if os.getuid() == 0 else []
    proc = subprocess.Popen([binary, *user, str(ini)], stderr=subprocess.PIPE, text=True)
    try:
        path = str(folder / f".s.PGSQL.{PGBOUNCER_PORT}")
        deadline = time.monotonic() + 30
        while True:  # until it accepts a connection (or has exited)
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(path)
                    break
                except OSError:
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = folder / "pgbouncer.log"
                said = log.read_text() if log.exists() else ""
                raise RuntimeError(f"pgbouncer did not start: {said[-400:]}")
            time.sleep(0.01)
        yield f"host={folder}&port={PGBOUNCER_PORT}"
    finally:
        proc.terminate()
        proc.wait(10)


def pool_settled(folder: Path) -> None:
    """Wait until PgBouncer has no server connection in use or being reset (``DISCARD
    ALL`` after a client left runs off the client's path: it is not the command's cost)."""
    import psycopg

    admin = f"host={folder} port={PGBOUNCER_PORT} dbname=pgbouncer user=np"
    with psycopg.connect(admin, autocommit=True) as conn:
        for _ in range(1000):
            result = conn.pgconn.exec_(b"SHOW SERVERS")
            names = [result.fname(i) for i in range(result.nfields)]
            state = names.index(b"state")
            states = {result.get_value(r, state) for r in range(result.ntuples)}
            if states <= {b"idle", b"used"}:
                return
            time.sleep(0.005)
    raise RuntimeError(f"PgBouncer's server connections stayed busy: {states}")


def _np(
    url: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    np_bin = Path(sys.executable).parent / "np"
    return subprocess.run(
        [str(np_bin), "--json", *args],
        cwd=cwd,
        env={**_env(env or {}), "NP_DB": url},
        capture_output=True,
        text=True,
    )


CONNECT = """
import sys, time, psycopg
started = time.perf_counter()
psycopg.connect(sys.argv[1], connect_timeout=10).close()
print((time.perf_counter() - started) * 1000)
"""


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "NP_ACTOR": "", "PGPASSWORD": PASSWORD, **extra}


def bare_connect(
    url: str, proxy: DelayProxy, runs: int, env: dict[str, str], settle: Path | None
) -> dict[str, object]:
    """``psycopg.connect`` then close, in a fresh process as a CLI makes it: round trips
    and the median ms of the connect alone."""
    trips, took = [], []
    for _ in range(runs):
        if settle is not None:
            pool_settled(settle)
        proxy.reset()
        proc = subprocess.run(
            [sys.executable, "-c", CONNECT, url], env=_env(env), capture_output=True, text=True
        )
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1]}
        took.append(float(proc.stdout))
        trips.append(proxy.flights)
    return {
        "round_trips": max(trips),
        "ms": round(statistics.median(took), 1),
        "min_ms": round(min(took), 1),
    }


def cli_update(
    url: str, proxy: DelayProxy, base: Path, runs: int, env: dict[str, str], settle: Path | None
) -> dict[str, object]:
    """``np t u -i ID -s completed`` as a user runs it: round trips and median ms. Through
    the pooler, its ``DISCARD ALL`` after the command left (1 round trip, off the command's
    path) is waited for and taken off."""
    trips, took = [], []
    for n in range(runs):
        work = base / str(n) / "a" / "b" / "project"
        work.mkdir(parents=True, exist_ok=True)
        _np(url, work, "s", env=env)
        task = _np(url, work, "t", "a", "-t", f"task {n}", env=env)
        if task.returncode != 0:
            return {"error": (task.stderr + task.stdout).strip()[-300:]}
        tid = next(t["id"] for t in json.loads(task.stdout)["tasks"] if t["title"] == f"task {n}")
        if settle is not None:
            pool_settled(settle)
        proxy.reset()
        started = time.perf_counter()
        proc = _np(url, work, "t", "u", "-i", tid, "-s", "completed", env=env)
        took.append((time.perf_counter() - started) * 1000)
        if settle is not None:
            pool_settled(settle)
        trips.append(proxy.flights - (1 if settle is not None else 0))
        assert proc.returncode == 0, proc.stderr
    return {
        "round_trips": max(trips),
        "each": trips,
        "ms": round(statistics.median(took)),
        "min_ms": round(min(took)),
    }


def door_update(url: str, proxy: DelayProxy, base: Path, runs: int) -> dict[str, object]:
    """The same write through a long-lived np process: the command table on a Store kept
    open (``np serve``'s and ``np mcp``'s write path), connection already made."""
    from server.commands.table import Context, execute
    from store import Store

    os.environ["PGPASSWORD"] = PASSWORD
    (base / "door").mkdir(parents=True, exist_ok=True)
    trips, took = [], []
    with Store(url) as store:
        ctx = Context(store, str(base / "door"), "door", actor="door")
        execute("np.session.start", ctx, {})
        for _ in range(runs + 1):  # the first warms the connection
            tid = execute("np.task.add", ctx, {"tasks": [{"title": "x"}]})["added"][0]
            proxy.reset()
            started = time.perf_counter()
            execute("np.task.update", ctx, {"updates": [{"id": tid, "status": "completed"}]})
            took.append((time.perf_counter() - started) * 1000)
            trips.append(proxy.flights)
    return {
        "round_trips": max(trips[1:]),
        "ms": round(statistics.median(took[1:]), 1),
        "min_ms": round(min(took[1:]), 1),
    }


def _way(
    way: str, near: int, tls_dir: Path, proxy: DelayProxy, work: Path, runs: int
) -> dict[str, object]:
    cert = tls_dir / "server.crt"
    tcp = f"postgresql://np@127.0.0.1:{near}/{DATABASE}"
    tls = f"{tcp}?sslmode=verify-full&sslrootcert={cert}"
    if way == "door":
        return {"np t u": door_update(tls, proxy, work, runs)}
    settle: Path | None = None
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if way == "pgbouncer":
            if not shutil.which("pgbouncer") and not Path("/usr/sbin/pgbouncer").exists():
                return {"error": "pgbouncer is not installed"}
            settle = work.parent / f"bouncer-{near}"
            target = (
                f"host=127.0.0.1 port={near} dbname={DATABASE} user=np password={PASSWORD}"
                " application_name=np"
            )
            ini = pgbouncer_ini(settle, {DATABASE: target}, tls_ca=cert)
            url = f"postgresql://np@/{DATABASE}?{stack.enter_context(pgbouncer(ini))}"
            warm = work.parent / f"{way}-warm"  # beside the measured folders, not above them
            warm.mkdir(parents=True, exist_ok=True)
            _np(url, warm, "p")  # the pool's first connection: not counted
        elif way == "tls-cert":
            url = (
                f"postgresql://{CERT_USER}@127.0.0.1:{near}/{DATABASE}?sslmode=verify-full"
                f"&sslrootcert={cert}&sslcert={tls_dir / 'client.crt'}"
                f"&sslkey={tls_dir / 'client.key'}"
            )
        else:
            url = {
                "tcp-trust": f"{tcp}?sslmode=disable",
                "tls-scram": tls,
                "tls-p256": tls,
                "tls-direct": f"{tls}&sslnegotiation=direct",
            }[way]
            if way == "tls-p256":
                env = {"OPENSSL_CONF": str(tls_dir / "p256.cnf")}
        return {
            "connect": bare_connect(url, proxy, runs, env, settle),
            "np t u": cli_update(url, proxy, work, runs, env, settle),
        }
    raise AssertionError(way)  # unreachable: the block returns


def measure(rtts: list[int], runs: int, ways: list[str]) -> dict[str, object]:
    from psycopg import pq

    out: dict[str, object] = {
        "libpq": pq.version(),
        "note": "round trips include TCP's handshake where the way connects over TCP",
    }
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="np-conn-")))
        base.chmod(0o755)  # the cluster and PgBouncer (as postgres) read files below
        server, port, cert = stack.enter_context(tls_cluster(base / "pg"))
        import psycopg

        new_database(server, DATABASE)
        with psycopg.connect(server.replace("/postgres?", f"/{DATABASE}?")) as conn:
            conn.execute(f"GRANT np_app TO {CERT_USER}")
        with psycopg.connect(server, autocommit=True) as conn:
            out["server"] = conn.info.parameter_status("server_version")
        for rtt in rtts:
            near = _free_port()
            with DelayProxy(
                f"127.0.0.1:{near}", f"127.0.0.1:{port}", rtt / 1000, handshake=True
            ) as proxy:
                out[f"{rtt} ms"] = {
                    way: _way(way, near, cert.parent, proxy, base / f"w{rtt}" / way, runs)
                    for way in ways
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rtts", default="0,12,50", help="added round trips, ms")
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    rtts = [int(r) for r in args.rtts.split(",")]
    print(json.dumps(measure(rtts, args.runs, args.ways.split(",")), indent=2))


if __name__ == "__main__":
    main()
