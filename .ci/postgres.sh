#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster for np's tests and benchmarks.
#
#   .ci/postgres.sh start DIR [-c name=value …]   initdb + start in DIR; prints `export …` lines
#   .ci/postgres.sh stop DIR                      stop the cluster and delete DIR
#
# Debian's `postgresql` and `pgbouncer` (installed with apt when missing). The cluster listens on a Unix socket
# in DIR only (listen_addresses=''), so it never clashes with a server on port 5432. PostgreSQL
# refuses to run as root, so as root it runs as the `postgres` user (runuser); anyone else runs
# it as themselves. `start` prints the URL for the tests:
#   export NP_TEST_PG='postgresql://np@/postgres?host=DIR'
# Usage in a script:  eval "$(.ci/postgres.sh start "$DIR")"; trap '.ci/postgres.sh stop "$DIR"' EXIT
set -euo pipefail
# runuser, apt-get and the cluster's tools live in sbin, which a non-login shell may not list.
PATH="$PATH:/usr/sbin:/sbin"

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR [-c name=value …]" >&2
  exit 2
fi
shift 2

pgbin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

as_owner() {
  # Run a PostgreSQL program as the cluster's owner, from a folder it may read.
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

case "$cmd" in
start)
  # PgBouncer too: tests/cli/test_pg_pooler.py runs np through it (README, "Sharing plans
  # across machines"); the tests start their own, on a Unix socket in a folder of theirs.
  if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ] || ! command -v pgbouncer >/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    echo "Installing Debian's postgresql and pgbouncer (for np's PostgreSQL tests)…" >&2
    # Other processes may hold the apt lock: wait for it rather than fail.
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
      install -y -qq --no-install-recommends postgresql pgbouncer >/dev/null
  fi
  bin=$(pgbin)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  chmod 755 "$dir"  # clients need to reach the socket; data/ stays 0700
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U np --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  opts="-c listen_addresses='' -k $dir -c max_connections=200 -c fsync=off"
  for extra in "$@"; do opts="$opts $extra"; done
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$opts" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export NP_TEST_PG='postgresql://np@/postgres?host=$dir'"
  ;;
stop)
  bin=$(pgbin)
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
