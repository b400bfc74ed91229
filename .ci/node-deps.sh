#!/usr/bin/env bash
# The npm packages of the folders given (make node-deps: the VS Code extension and the two Node
# test clients), installed with `npm ci` only when needed: a folder's node_modules is reused
# while its stamp (node_modules/.np-lock-stamp) names the same package-lock.json hash and the
# same Node and npm versions; any change there (or a missing node_modules) installs it again.
#
#   .ci/node-deps.sh DIR...
#
# Progress goes to stderr (one line per folder: reused or installed).
set -euo pipefail
say() { echo "node-deps: $*" >&2; }
versions="node $(node --version) npm $(npm --version)"
for d in "$@"; do
  [ -f "$d/package-lock.json" ] || continue
  want="$(sha256sum "$d/package-lock.json" | cut -d' ' -f1) $versions"
  stamp=$d/node_modules/.np-lock-stamp
  if [ -d "$d/node_modules" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "$d: reused (package-lock.json and $versions unchanged)"
    continue
  fi
  say "$d: npm ci"
  (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
done
