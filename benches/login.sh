#!/usr/bin/env bash
# Login-load benchmark: does argon2 starve the server? Starts the release
# build with the lockout thresholds raised (so every attempt is hashed), then
# measures GET /health latency twice per round: alone,
# and while a paced client sends RATE wrong-password logins per second to
# POST /login from many client addresses (X-Forwarded-For, with loopback
# trusted as a proxy). Prints the p50/p99 of each and the p99 ratio (goal: the
# loaded p99 within 2x of the unloaded one), and the login rate achieved.
#
# Knobs: RATE (50), ROUNDS (5), DURATION (15, seconds), PROBE_RATE (200).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rate=${RATE:-50}
rounds=${ROUNDS:-5}
duration=${DURATION:-15}
probe_rate=${PROBE_RATE:-200}
out="$root/target/bench"
mkdir -p "$out"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --locked
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
(cd "$work" && WATCHPOST_SERVER__BIND="127.0.0.1:$port" \
  WATCHPOST_SERVER__TRUSTED_PROXIES=127.0.0.1 \
  WATCHPOST_AUTH__LOCKOUT__MAX_FAILURES=100000000 \
  WATCHPOST_AUTH__LOCKOUT__ACCOUNT_DAILY_MAX=100000000 \
  WATCHPOST_AUTH__LOCKOUT__IP_MAX_FAILURES=100000000 \
  exec "$root/target/release/watchpost") >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

# /health latency: a paced prober (PROBE_RATE requests/s on one keep-alive
# connection for DURATION seconds) prints p50 and p99 in microseconds. Paced,
# not flat out, so the measurement itself does not load the server.
cat >"$work/probe.py" <<'PY'
import http.client, sys, time
port, rate, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
samples, start, n = [], time.monotonic(), 0
while time.monotonic() - start < seconds:
    due = start + n / rate
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    t = time.perf_counter()
    c.request("GET", "/health")
    r = c.getresponse()
    r.read()
    samples.append((time.perf_counter() - t) * 1e6)
    assert r.status == 200, r.status
    n += 1
samples.sort()
print(f"{samples[len(samples) // 2]:.0f} {samples[int(len(samples) * 0.99)]:.0f}")
PY
# The prober runs at a higher priority (when allowed) so its own scheduling
# does not count as server latency; the login generator at the lowest.
health_latency() { nice -n -10 python3 "$work/probe.py" "$port" "$probe_rate" "$duration" 2>/dev/null || python3 "$work/probe.py" "$port" "$probe_rate" "$duration"; }

# Paced wrong-password logins from many addresses; prints attempts/s achieved
# and the median login latency (ms) when stopped.
cat >"$work/logins.py" <<'PY'
import http.client, random, re, signal, sys, threading, time, urllib.parse
port, rate = int(sys.argv[1]), float(sys.argv[2])
def session():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/login")
    r = c.getresponse()
    body = r.read().decode()
    cookie = r.getheader("set-cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    return c, cookie, token
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
done, latencies, lock = [0], [], threading.Lock()
def worker(offset, workers):
    c, cookie, token = session()
    n = offset
    start = time.monotonic()
    while not stop.is_set():
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        form = urllib.parse.urlencode({"csrf": token, "email": f"user{n % 500}@example.com", "password": "definitely not it"})
        t = time.monotonic()
        c.request("POST", "/login", body=form, headers={"Cookie": cookie, "X-Forwarded-For": ip,
                  "Content-Type": "application/x-www-form-urlencoded"})
        c.getresponse().read()
        with lock:
            done[0] += 1
            latencies.append((time.monotonic() - t) * 1000)
        n += workers
threads = [threading.Thread(target=worker, args=(i, 32), daemon=True) for i in range(32)]
began = time.monotonic()
for t in threads: t.start()
while not stop.is_set(): time.sleep(0.1)
elapsed = time.monotonic() - began
latencies.sort()
print(f"{done[0] / elapsed:.1f} {latencies[len(latencies) // 2] if latencies else 0:.1f}")
PY

python3 "$work/probe.py" "$port" "$probe_rate" 2 >/dev/null
: >"$out/login-rounds.txt"
echo "round idle_p50_us idle_p99_us loaded_p50_us loaded_p99_us logins_per_s login_p50_ms"
for r in $(seq 1 "$rounds"); do
  idle=$(health_latency)
  nice -n 19 python3 "$work/logins.py" "$port" "$rate" >"$work/logins.out" &
  load=$!
  sleep 2
  loaded=$(health_latency)
  kill -TERM "$load"; wait "$load" || true
  echo "$r $idle $loaded $(cat "$work/logins.out")" | tee -a "$out/login-rounds.txt"
done

python3 - "$out/login-rounds.txt" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda i: statistics.median(r[i] for r in rows)
print(f"rounds: {len(rows)}")
print(f"/health alone:        p50 {med(1):,.0f} us, p99 {med(2):,.0f} us")
print(f"/health under logins: p50 {med(3):,.0f} us, p99 {med(4):,.0f} us")
print(f"p99 ratio loaded/alone: {med(4) / med(2):.2f}  (goal <= 2.0)")
print(f"login attempts: {med(5):.1f}/s achieved, median {med(6):.0f} ms each")
PY
