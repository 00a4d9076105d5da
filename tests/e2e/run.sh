#!/usr/bin/env bash
# End-to-end tests: the release binary on a free loopback port with a throwaway
# data directory, driven by real clients. Installs what it needs itself:
# Debian chromium (apt-get) and playwright-core (npm, into target/e2e/node).
# Artifacts (screenshots, server log) land in target/e2e/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out="$root/target/e2e"
node_dir="$out/node"
mkdir -p "$out" "$node_dir"

say() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v python3 >/dev/null || apt_install python3
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  say "npm install playwright-core"
  [ -f "$node_dir/package.json" ] || echo '{"private": true}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error playwright-core@1)
fi

say "cargo build --release"
cargo build --release --locked
bin="$root/target/release/watchpost"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
base="http://127.0.0.1:$port"

say "start watchpost on $base"
(cd "$work" && WATCHPOST_SERVER__BIND="127.0.0.1:$port" WATCHPOST_LOGGING__JSON=true exec "$bin") >"$out/server.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  "$bin" healthcheck --url "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done

say "watchpost healthcheck"
"$bin" healthcheck --url "$base/health"

say "first run created the data dir"
test -d "$work/data" && test -f "$work/data/watchpost.db" && test -d "$work/data/logs"
[ "$(stat -c %a "$work/data")" = "700" ] || { echo "data dir is not 0700"; exit 1; }
grep -q "listening on $base" "$out/server.log" || { echo "no 'listening on' line"; cat "$out/server.log"; exit 1; }

say "first run printed a one-time setup link and saved it 0600"
grep -q "/setup?token=" "$out/server.log" || { echo "no setup link on the console"; exit 1; }
[ "$(stat -c %a "$work/data/setup-token")" = "600" ] || { echo "setup-token is not 0600"; exit 1; }

say "chromium (playwright-core): setup, 2FA enrolment, logout, password + TOTP login, viewer, phone, 404"
NODE_PATH="$node_dir/node_modules" node "$root/tests/e2e/browser.cjs" "$base" "$out" "$work/data/setup-token"

say "audit trail verifies after the browser session"
(cd "$work" && "$bin" trail verify)

say "backup while serving"
(cd "$work" && "$bin" backup "$work/backup.db")
test -s "$work/backup.db"

say "SIGTERM: graceful shutdown, exit 0"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { echo "exit status $status after SIGTERM"; tail -20 "$out/server.log"; exit 1; }
grep -q '"shutdown complete"' "$out/server.log" || { echo "no clean shutdown line"; exit 1; }

say "e2e passed; screenshots in $out"
