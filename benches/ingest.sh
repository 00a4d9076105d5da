#!/usr/bin/env bash
# Error-ingest benchmark: a loopback load generator (wrk, keep-alive) posts a
# ~20 KB Sentry event envelope, gzip-compressed, to /api/1/envelope/ for
# DURATION. Eight different events (eight exception types, so eight issues)
# rotate. Every second the script samples the backlog (items acknowledged but
# not digested yet), the events digested so far and Watchpost's RSS. It
# prints accepted/s (answers 200 per second, from wrk), digested/s (events
# digested from the first request until the backlog drained, over that
# time), the largest backlog, and RSS at peak and after. For scale, the same
# run measures GET /health with the same wrk settings.
#
# Knobs (environment):
#   DURATION (30s)     length of the load
#   CONNECTIONS (16)   wrk keep-alive connections
#   PROFILE (release)  cargo profile to build and run
#   CARGO_TARGET_DIR   where the binary is built (default target/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${DURATION:-30s}
connections=${CONNECTIONS:-16}
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/$profile/watchpost"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --locked --profile "$profile" --bin watchpost >/dev/null

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export WATCHPOST_STORAGE__DATA_DIR="$work/data" WATCHPOST_SERVER__BIND="127.0.0.1:$port"
# The load is the point: lift the quotas and the backlog cap out of its way.
export WATCHPOST_ERRORS__QUOTA_PER_MINUTE=100000000 WATCHPOST_ERRORS__QUOTA_PER_HOUR=1000000000
export WATCHPOST_ERRORS__MAX_BACKLOG=10000000
(cd "$work" && exec "$bin") >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
dsn=$(cd "$work" && "$bin" errors project add "Bench")
key=$(echo "$dsn" | sed -E 's|.*://([0-9a-f]+)@.*|\1|')

python3 - "$work" <<'PY'
import gzip, json, sys, uuid
work = sys.argv[1]
for n in range(8):
    frames = [{
        "filename": f"shop/module_{i}.py", "abs_path": f"/srv/shop/module_{i}.py", "module": f"shop.module_{i}",
        "function": f"handler_{i}", "lineno": 100 + i, "in_app": i > 20,
        "context_line": f"    result = compute_{i}(order, basket, customer)",
        "pre_context": [f"    # step {i} of the checkout", "    basket = load_basket(request)"],
        "post_context": ["    audit(result)", "    return result"],
        "vars": {"order": f"<Order {i}>", "basket": "[<Item 1>, <Item 2>]", "password": "hunter2"},
    } for i in range(30)]
    event = {
        "event_id": uuid.uuid4().hex, "timestamp": "2026-12-07T12:00:00Z", "platform": "python", "level": "error",
        "release": "shop@3.1.4", "environment": "production", "server_name": "web-1",
        "tags": {"browser": "Firefox", "region": "eu"},
        "user": {"id": str(n), "email": f"user{n}@example.com"},
        "exception": {"values": [{"type": f"CheckoutError{n}", "value": f"order {n * 1000 + 7} failed",
                                  "stacktrace": {"frames": frames}}]},
        "request": {"method": "POST", "url": "https://shop.example.com/checkout", "headers": {"User-Agent": "Mozilla/5.0"},
                    "data": {"card": "4111 1111 1111 1111", "qty": "2"}},
        "breadcrumbs": {"values": [{"category": "query", "message": f"SELECT * FROM items WHERE id = {j}"} for j in range(70)]},
        "contexts": {"os": {"name": "Linux"}, "runtime": {"name": "CPython", "version": "3.12.1"}},
    }
    payload = json.dumps(event).encode()
    envelope = json.dumps({"event_id": event["event_id"]}).encode() + b"\n" + \
        json.dumps({"type": "event", "length": len(payload)}).encode() + b"\n" + payload + b"\n"
    open(f"{work}/body{n}.gz", "wb").write(gzip.compress(envelope))
    if n == 0:
        print(f"envelope: {len(envelope)} bytes, {len(gzip.compress(envelope))} bytes gzip-compressed")
PY

cat >"$work/ingest.lua" <<LUA
local bodies = {}
for n = 0, 7 do
  local f = io.open("$work/body" .. n .. ".gz", "rb")
  bodies[n] = f:read("*a")
  f:close()
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Encoding"] = "gzip"
wrk.headers["Content-Type"] = "application/x-sentry-envelope"
request = function()
  i = (i + 1) % 8
  return wrk.format("POST", "/api/1/envelope/?sentry_key=$key&sentry_version=7", nil, bodies[i])
end
LUA

count() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True); print(c.execute("SELECT (SELECT COUNT(*) FROM error_items), (SELECT COUNT(*) FROM error_events)").fetchone()[0:2])' "$work/data/watchpost.db" | tr -d '(),'; }
rss_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }

health=$(wrk -t1 -c"$connections" -d5s "http://127.0.0.1:$port/health" | awk '/Requests\/sec/ {print $2}')
echo "GET /health with the same wrk settings: $health req/s"
echo "rss before: $(rss_kb VmRSS) kB"
echo "second backlog digested rss_kB"
start=$(date +%s.%N)
wrk -t1 -c"$connections" -d"$duration" -s "$work/ingest.lua" "http://127.0.0.1:$port" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
s=0
max_backlog=0
while :; do
  sleep 1
  s=$((s + 1))
  read -r backlog digested <<<"$(count)"
  [ "$backlog" -gt "$max_backlog" ] && max_backlog=$backlog
  echo "$s $backlog $digested $(rss_kb VmRSS)"
  if ! kill -0 "$wrk_pid" 2>/dev/null && [ "$backlog" = 0 ]; then break; fi
done
drained=$(date +%s.%N)
cat "$work/wrk.txt" | grep -E "Requests/sec|requests in|Non-2xx|Latency" || true
accepted=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt"); non2xx=${non2xx:-0}
read -r _ digested <<<"$(count)"
python3 - "$start" "$drained" "$accepted" "$non2xx" "$digested" "$max_backlog" "$health" "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" <<'PY'
import sys
start, drained, sent, non2xx, digested, backlog, health, rps = sys.argv[1:]
secs = float(drained) - float(start)
print(f"accepted: {int(sent) - int(non2xx)} of {sent} envelopes ({rps} req/s; {non2xx} refused)")
print(f"digested: {digested} events in {secs:.1f} s from the first request to an empty backlog = {int(digested) / secs:,.0f} events/s")
print(f"largest backlog: {backlog}; ingest throughput / GET /health throughput: {float(rps) / float(health):.3f}")
PY
echo "rss after: $(rss_kb VmRSS) kB, peak $(rss_kb VmHWM) kB"
