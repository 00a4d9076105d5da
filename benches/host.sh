#!/usr/bin/env bash
# Host-metrics benchmark. Two parts, each with the release build:
#
# 1. Idle cost: a fresh instance with the collector sampling every 10 s (the
#    default); after a 30 s warm-up, the process's CPU time over IDLE_SECS
#    (default 300) from /proc, as a percentage of one core, and its RSS.
# 2. History: `dev seed-metrics --days 30` into a second data directory
#    (printing bytes per sample across all tiers and the database size), then
#    that instance serves QUERIES requests each of a 30-day series query, the
#    30-day host page, and /health as the baseline of the same run. Server
#    time per request comes from the access log's duration_us; the script
#    prints p50 and p95 of each and their ratio to /health.
#
# Knobs: IDLE_SECS (300), QUERIES (200), SKIP_IDLE (0).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
idle_secs=${IDLE_SECS:-300}
queries=${QUERIES:-200}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --locked
bin="$root/target/release/watchpost"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # DIR PORT [VAR=VALUE...]
  local dir=$1 port=$2
  shift 2
  (cd "$dir" && env WATCHPOST_SERVER__BIND="127.0.0.1:$port" "$@" "$bin") >"$dir/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "${pids[-1]}"
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if [ "${SKIP_IDLE:-0}" != "1" ]; then
  mkdir -p "$work/idle"
  pid=$(start "$work/idle" "$(free_port)")
  sleep 30
  hz=$(getconf CLK_TCK)
  before=$(ticks "$pid")
  sleep "$idle_secs"
  after=$(ticks "$pid")
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  python3 - "$before" "$after" "$hz" "$idle_secs" "$rss_kb" <<'PY'
import sys
before, after, hz, secs, rss = (float(x) for x in sys.argv[1:])
print(f"idle CPU over {secs:.0f} s: {(after - before) / hz / secs * 100:.3f} % of one core")
print(f"idle RSS: {rss / 1024:.1f} MiB")
PY
fi

mkdir -p "$work/history"
echo "seeding 30 days"
(cd "$work/history" && "$bin" dev seed-metrics --days 30)
ls -l "$work/history/data/watchpost.db" | awk '{print "database file:", $5, "bytes"}'
port=$(free_port)
start "$work/history" "$port" WATCHPOST_ADMIN_EMAIL=bench@example.com WATCHPOST_AUTH__REQUIRE_2FA_FOR_ADMINS=false \
  WATCHPOST_ADMIN_PASSWORD="orange kettle drums at noon, quietly" >/dev/null
token=$(cd "$work/history" && "$bin" token create --user bench@example.com --name bench --scope read)
base="http://127.0.0.1:$port"
now=$(date +%s)
from=$((now - 30 * 86400))
cookie_jar="$work/cookies"
# The host page needs a session: log in through the form.
csrf=$(curl -s -c "$cookie_jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -b "$cookie_jar" -c "$cookie_jar" -o /dev/null \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@example.com" \
  --data-urlencode "password=orange kettle drums at noon, quietly" "$base/login"
for _ in $(seq 1 "$queries"); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" "$base/api/v1/series/host.cpu.total?from=$from&to=$now&points=600"
  curl -s -o /dev/null -b "$cookie_jar" "$base/host?range=30d"
  curl -s -o /dev/null "$base/health"
done
sleep 1
python3 - "$work/history/data/logs/watchpost.log" <<'PY'
import json, sys
times = {"series": [], "host": [], "health": []}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    route, status = e.get("route"), e.get("status")
    if status != 200 or "duration_us" not in e:
        continue
    if route == "/api/v1/series/{name}":
        times["series"].append(e["duration_us"])
    elif route == "/host" and "range=30d" in e.get("path", ""):
        times["host"].append(e["duration_us"])
    elif route == "/health":
        times["health"].append(e["duration_us"])
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
base50 = pct(times["health"], 50)
for name, label in [("series", "30-day series query (1h tier, 600 points)"), ("host", "/host?range=30d page"), ("health", "/health (baseline)")]:
    xs = times[name]
    print(f"{label}: n={len(xs)} p50 {pct(xs, 50) / 1000:.2f} ms, p95 {pct(xs, 95) / 1000:.2f} ms, p50 / health p50 = {pct(xs, 50) / base50:.1f}")
PY
