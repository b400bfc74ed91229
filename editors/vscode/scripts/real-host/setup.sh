#!/usr/bin/env bash
# Set up a real VS Code for the extension's in-host tests and UI check, outside the repository:
# Debian's chromium/ripgrep/libkrb5-dev, and the VS Code 1.100.3 build inside the npm package
# code-server 4.100.3 (the newest whose engines.node is 20), with its native modules built
# locally — nothing is downloaded except from the npm registry and Debian apt.
#
#   setup.sh            prints the code-server directory (…/code-server), building it once
#
# Two channels: stdout carries the result only (that one line, which run.mjs reads);
# everything the set-up says or runs (apt, npm, node-gyp, this script's progress) goes to
# stderr, on the first run (cold cache) as on later ones.
#
# The build lives in ${NP_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci}/code-server-4.100.3/
# and is reused while its .complete stamp exists. About 1 min of native builds on 2 cores
# (plus apt's chromium on a fresh machine); nothing after that.
set -euo pipefail
CS_VERSION=4.100.3
CACHE=${NP_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci}
DEST=$CACHE/code-server-$CS_VERSION
log() { echo "real-host setup: $*" >&2; }
# The result's channel is fd 3 (the caller's stdout); every command's stdout goes to stderr.
exec 3>&1 1>&2

# 1. System packages: the browser, rg (VS Code's search ships a downloaded one otherwise),
#    headers for the kerberos module, a C++ toolchain for node-gyp.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
if [ ! -f "$DEST/.complete" ]; then          # only the build needs these
  command -v g++ >/dev/null 2>&1 || missing+=(build-essential)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. code-server, built once.
if [ ! -f "$DEST/.complete" ]; then
  NODE_PREFIX=$(dirname "$(dirname "$(command -v node)")")
  if [ ! -f "$NODE_PREFIX/include/node/node.h" ]; then
    log "Node's headers are missing (node-gyp would download them, which fails offline): install a nodejs package that ships include/node (nodesource's does)"
    exit 1
  fi
  log "building code-server $CS_VERSION in $DEST (once; about a minute of native builds)"
  mkdir -p "$CACHE"
  TMP=$(mktemp -d "$CACHE/.code-server-build.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  cd "$TMP"
  npm pack -s "code-server@$CS_VERSION" >/dev/null
  tar xzf "code-server-$CS_VERSION.tgz" && rm "code-server-$CS_VERSION.tgz"
  mv package code-server && cd code-server
  export npm_config_nodedir=$NODE_PREFIX    # node-gyp: the local Node headers, no download
  export npm_config_yes=true                # node-pty's postinstall runs `npx node-gyp`
  export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
  # postinstall.sh runs a nested npm install that breaks under npm 11 (ENOTEMPTY): do its steps here.
  npm install -s --omit=dev --ignore-scripts
  npm_config_build_from_source=true npm rebuild -s argon2   # loaded at start even with --auth none
  cd lib/vscode
  npm install -s --omit=dev --ignore-scripts
  # @vscode/ripgrep's postinstall downloads rg from GitHub; with bin/rg present it skips that.
  mkdir -p node_modules/@vscode/ripgrep/bin && cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild -s                             # kerberos, spdlog, node-pty, native-watchdog, deviceid…
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sfn code-linux.sh code-server)
  (cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
  (cd extensions && npm install -s --omit=dev)
  cd "$TMP"
  node code-server/out/node/entry.js --version >/dev/null
  rm -rf "$DEST" && mkdir -p "$DEST" && mv code-server "$DEST/code-server"
  date -u +%FT%TZ > "$DEST/.complete"
fi
echo "$DEST/code-server" >&3
