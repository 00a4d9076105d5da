#!/usr/bin/env bash
# End-to-end tests: the release binary on a free loopback port with a throwaway
# data directory holding 30 days of synthetic host history, driven by real
# clients. Installs what it needs itself: Debian chromium and prometheus
# (apt-get; promtool and a real scraper), playwright-core (npm, into
# target/e2e/node) and sentry-sdk (PyPI, into the venv target/e2e/venv).
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

apt_install chromium prometheus
command -v curl >/dev/null || apt_install curl
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
command -v python3 >/dev/null || apt_install python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
if [ ! -d "$node_dir/node_modules/playwright-core" ]; then
  say "npm install playwright-core"
  [ -f "$node_dir/package.json" ] || echo '{"private": true}' > "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error playwright-core@1)
fi

say "cargo build --release"
cargo build --release --locked
bin="$root/target/release/watchpost"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
work=$(mktemp -d)
base="http://127.0.0.1:$port"

say "watchpost dev seed-metrics --days 30 (synthetic history for the screenshots)"
(cd "$work" && "$bin" dev seed-metrics --days 30)

say "a loopback webhook receiver for alerts, and a configuration that sends to it"
hook_port=$(free_port)
printf '%s' 'e2e-alert-signing-secret' >"$work/hook-secret"
python3 - "$hook_port" "$out/alerts-received.jsonl" <<'PY' >"$out/receiver.log" 2>&1 &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with open(path, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
hook_pid=$!
: >"$out/alerts-received.jsonl"
cat >"$work/watchpost.toml" <<TOML
[alerts]
evaluate_every = "2s"

[[alerts.channels]]
id = "e2e-hook"
kind = "webhook"
url = "http://127.0.0.1:$hook_port/hook"
secret_file = "$work/hook-secret"

[[alerts.rules]]
id = "shop-down"
kind = "check_down"
checks = ["shop"]
for = "5s"
severity = "critical"
channels = ["e2e-hook"]
TOML

say "start watchpost on $base"
# Loopback is a trusted proxy, so the scanner below can speak as a remote
# address with X-Forwarded-For (as it would behind nginx); the browser, with
# no such header, stays 127.0.0.1 and on the default allowlist.
(cd "$work" && WATCHPOST_SERVER__BIND="127.0.0.1:$port" WATCHPOST_SERVER__TRUSTED_PROXIES=127.0.0.1 WATCHPOST_LOGGING__JSON=true exec "$bin") >"$out/server.log" 2>&1 &
pid=$!
prom_pid=""
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null || true
  kill "$hook_pid" 2>/dev/null || true
  [ -n "${django_pid:-}" ] && kill "$django_pid" 2>/dev/null || true
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

say "a scanner (as 203.0.113.66 through the loopback proxy) sends 34 probes and is banned within the thresholds"
n=0; first_403=""
while IFS=$'\t' read -r probe ua; do
  case "$probe" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.66' -A "$ua" "$base$probe")
  if [ "$code" = "403" ]; then
    [ -n "$first_403" ] || first_403=$n
  elif [ -n "$first_403" ]; then
    echo "probe $n ($probe) answered $code after the ban"; exit 1
  fi
done <"$root/tests/e2e/probes.txt"
[ "$n" -ge 30 ] || { echo "only $n probes"; exit 1; }
[ -n "$first_403" ] && [ "$first_403" -le 5 ] || { echo "the scanner was not banned by its 5th request (first 403: ${first_403:-never})"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.66' "$base/login")
[ "$code" = "403" ] || { echo "the banned scanner got $code for /login"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.67' -A 'sqlmap/1.8.4#stable' "$base/")
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 203.0.113.67' "$base/login")
[ "$code" = "403" ] || { echo "one sqlmap request did not ban its sender (got $code)"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/login")
[ "$code" = "200" ] || { echo "loopback itself got $code"; exit 1; }
echo "banned at probe $first_403 of $n; every later probe got 403"

say "error ingest: the real sentry-sdk (PyPI, in a venv) sends with gzip, then with brotli"
venv="$out/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check 'sentry-sdk>=2,<3' 'Django>=5.2,<5.3'
dsn=$(cd "$work" && WATCHPOST_SERVER__BIND="127.0.0.1:$port" "$bin" errors project add "E2E shop")
echo "DSN: $dsn"
case "$dsn" in "http://"*"@127.0.0.1:$port/"*) ;; *) echo "unexpected DSN: $dsn"; exit 1 ;; esac
sql() { # query [args...] -> the first column of the first row
  python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2], sys.argv[3:]).fetchone()[0])' "$work/data/watchpost.db" "$@"
}
digested() { # wanted events -> waits until that many are digested
  for _ in $(seq 1 30); do
    [ "$(sql 'SELECT COUNT(*) FROM error_events')" -ge "$1" ] && [ "$(sql 'SELECT COUNT(*) FROM error_items')" = 0 ] && return 0
    sleep 1
  done
  echo "only $(sql 'SELECT COUNT(*) FROM error_events') of $1 events digested; $(sql 'SELECT COUNT(*) FROM error_items') waiting"; exit 1
}
"$venv/bin/pip" uninstall -q -y brotli >/dev/null 2>&1 || true
"$venv/bin/python" "$root/tests/e2e/sentry_client.py" "$dsn"
digested 2
"$venv/bin/pip" install -q --disable-pip-version-check brotli
"$venv/bin/python" "$root/tests/e2e/sentry_client.py" "$dsn"
digested 4
[ "$(sql 'SELECT COUNT(*) FROM error_issues')" = 2 ] || { echo "expected 2 issues (exception, message), got $(sql 'SELECT COUNT(*) FROM error_issues')"; exit 1; }
echo "4 events in 2 issues; the transactions went to request performance"

say "error tracking: a Django 5.2 app with DjangoIntegration raises in a view"
dport=$(free_port)
"$venv/bin/python" "$root/tests/e2e/django_app.py" "$dsn" runserver "127.0.0.1:$dport" --noreload >"$out/django.log" 2>&1 &
django_pid=$!
for _ in $(seq 1 30); do curl -s -o /dev/null "http://127.0.0.1:$dport/" && break; sleep 0.5; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$dport/checkout/?api_key=k3y-in-query" \
  -H 'Authorization: Bearer s3cr3t-bearer' -H 'Cookie: sessionid=s3cr3t-session' \
  --data-urlencode 'password=s3cr3t-password' --data-urlencode 'card=4111 1111 1111 1111' --data-urlencode 'qty=2')
[ "$code" = 500 ] || { echo "the Django view answered $code, not 500"; cat "$out/django.log"; exit 1; }
digested 5
kill "$django_pid" 2>/dev/null || true
python3 - "$work/data/watchpost.db" <<'PY'
import json, sqlite3, sys, zlib
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT e.payload, i.title, i.culprit FROM error_events e JOIN error_issues i ON i.id = e.issue_id "
                 "WHERE e.release = 'django-shop@2.0.0' ORDER BY e.id DESC LIMIT 1").fetchone()
assert row, "no event from the Django app"
event = json.loads(zlib.decompress(row[0], -15))
text = json.dumps(event)
for secret in ["s3cr3t-bearer", "s3cr3t-session", "s3cr3t-password", "4111 1111 1111 1111", "k3y-in-query"]:
    assert secret not in text, f"{secret} reached the store"
assert row[1].startswith("ZeroDivisionError"), row[1]
assert "checkout" in (row[2] or ""), row[2]
assert event["request"]["method"] == "POST", event["request"]
print(f"issue {row[1]!r} at {row[2]!r}; request scrubbed: {json.dumps(event['request'])[:200]}")
PY

say "chromium (playwright-core): setup, 2FA enrolment, logout, password + TOTP login, checks made in the UI going up and down, status page, alerts firing and resolving, viewer, host charts, phone, 404"
NODE_PATH="$node_dir/node_modules" node "$root/tests/e2e/browser.cjs" "$base" "$out" "$work/data/setup-token"

say "alerts: the webhook receiver got the shop's firing alert and then its resolved one, signed"
received=""
for _ in $(seq 1 60); do
  received=$(grep '"rule":"shop-down"' "$out/alerts-received.jsonl" || true)
  case "$received" in *'"status":"firing"'*'"status":"resolved"'*) break ;; esac
  sleep 1
done
case "$received" in
  *'"status":"firing"'*'"status":"resolved"'*) echo "$received" | cut -c1-160 ;;
  *) echo "no firing + resolved pair for shop-down: ${received:-nothing}"; cat "$out/receiver.log"; exit 1 ;;
esac
[ "$(echo "$received" | grep -c '"status":"firing"')" = 1 ] || { echo "more than one firing notification"; exit 1; }

say "/metrics: refused without a token, promtool check metrics with one"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")
[ "$code" = "401" ] || { echo "/metrics without a token answered $code"; exit 1; }
token=$(cd "$work" && "$bin" token create --user admin@example.com --name prometheus --scope metrics)
curl -sf -H "Authorization: Bearer $token" "$base/metrics" >"$out/metrics.txt"
promtool check metrics <"$out/metrics.txt"
grep -q '^watchpost_host_memory_total_bytes ' "$out/metrics.txt" || { echo "no host gauge in /metrics"; exit 1; }

say "a real Prometheus scrapes watchpost with the token"
prom_port=$(free_port)
mkdir -p "$work/prometheus"
printf '%s' "$token" >"$work/prometheus/token"
cat >"$work/prometheus/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: watchpost
    authorization:
      credentials_file: $work/prometheus/token
    static_configs:
      - targets: ["127.0.0.1:$port"]
YAML
promtool check config "$work/prometheus/prometheus.yml" >/dev/null
prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$out/prometheus.log" 2>&1 &
prom_pid=$!
prom="http://127.0.0.1:$prom_port"
up=""
for _ in $(seq 1 60); do
  up=$(curl -sf "$prom/api/v1/query?query=up%7Bjob%3D%22watchpost%22%7D" 2>/dev/null || true)
  case "$up" in *'"value":['*',"1"]'*) break ;; esac
  sleep 1
done
case "$up" in *'"value":['*',"1"]'*) echo "up == 1" ;; *) echo "Prometheus never saw watchpost up: $up"; tail -20 "$out/prometheus.log"; exit 1 ;; esac
series=$(curl -sf "$prom/api/v1/query?query=watchpost_host_memory_total_bytes")
case "$series" in *'"result":[{'*) echo "Prometheus returns watchpost_host_memory_total_bytes" ;; *) echo "no host series in Prometheus: $series"; exit 1 ;; esac
kill "$prom_pid"; wait "$prom_pid" 2>/dev/null || true; prom_pid=""

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
