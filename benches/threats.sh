#!/usr/bin/env bash
# Threat-detection benchmarks, release build, in one run:
#
#   gate  — wrk against GET /health of four servers, alternating, ROUNDS
#           rounds: the bare actix-web baseline; Watchpost as shipped
#           (loopback on the allowlist, so the threat layers take their
#           fast path); Watchpost with an empty allowlist (every request
#           goes through the ban gate and the detectors); and Watchpost
#           answering a banned client (127.0.0.1 banned, every answer a 403
#           from the gate). Medians and ratios against the baseline.
#   spray — one Watchpost behind a "proxy" on loopback gets SPRAY (1,000,000)
#           requests, each from a different X-Forwarded-For address, each a
#           404 on a distinct path (so every address gets a rate-limit key
#           and a path-probing bucket). RSS before, after, and the peak.
#   logs  — a synthetic nginx log of LOG_MB (1024) MiB is appended to a file
#           a Watchpost watches; the time until every line is read gives
#           lines/s and MB/s, and /proc gives the CPU time spent.
#
# Knobs: PARTS ("gate spray logs"), ROUNDS (7), DURATION (5s), SPRAY
# (1000000), LOG_MB (1024), PIN (1: servers on CPU 0, clients on CPU 1).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
parts=${PARTS:-gate spray logs}
rounds=${ROUNDS:-7}
duration=${DURATION:-5s}
spray=${SPRAY:-1000000}
log_mb=${LOG_MB:-1024}
pin=${PIN:-1}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$(nproc)" -lt 2 ] && pin=0
if [ "$pin" = 1 ]; then on_servers=(taskset -c 0); on_client=(taskset -c 1); else on_servers=(); on_client=(); fi

cargo build --release --locked
cargo build --release --locked --features bench-baseline --bin bare-actix
bin="$root/target/release/watchpost"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start() { # name port  (config: $work/name/watchpost.toml if present); prints the pid
  mkdir -p "$work/$1"
  (cd "$work/$1" && WATCHPOST_SERVER__BIND="127.0.0.1:$2" exec "${on_servers[@]}" "$bin") >"$work/$1.log" 2>&1 &
  pids+=($!)
  echo $!
}
wait_up() { for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.1; done; echo "port $1 did not come up"; exit 1; }
rss_kb() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rps() { "${on_client[@]}" wrk -t1 -c64 -d"${2:-$duration}" "http://127.0.0.1:$1${3:-/health}" | awk '/Requests\/sec/ {print $2}'; }

if [[ " $parts " == *" gate "* ]]; then
  echo "== gate: /health through the threat layers"
  bare=$(free_port); "${on_servers[@]}" "$root/target/release/bare-actix" "127.0.0.1:$bare" >/dev/null 2>&1 & pids+=($!)
  shipped=$(free_port); start shipped "$shipped" >/dev/null
  mkdir -p "$work/open" "$work/banned"
  printf '[threats]\nallowlist = []\n' >"$work/open/watchpost.toml"
  printf '[threats]\nallowlist = []\n' >"$work/banned/watchpost.toml"
  (cd "$work/banned" && "$bin" threats ban 127.0.0.1 --for 1d --reason benchmark >/dev/null)
  open=$(free_port); start open "$open" >/dev/null
  banned=$(free_port); start banned "$banned" >/dev/null
  for p in "$bare" "$shipped" "$open" "$banned"; do wait_up "$p"; rps "$p" 2s >/dev/null; done
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$banned/health")
  [ "$code" = 403 ] || { echo "the banned client got $code"; exit 1; }
  : >"$work/gate.txt"
  echo "round bare shipped open banned"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
      a=$(rps "$bare"); b=$(rps "$shipped"); c=$(rps "$open"); d=$(rps "$banned")
    else
      d=$(rps "$banned"); c=$(rps "$open"); b=$(rps "$shipped"); a=$(rps "$bare")
    fi
    echo "$r $a $b $c $d" | tee -a "$work/gate.txt"
  done
  python3 - "$work/gate.txt" <<'PY'
import statistics, sys
rows = [[float(x) for x in l.split()[1:]] for l in open(sys.argv[1]) if l.strip()]
med = [statistics.median(r[i] for r in rows) for i in range(4)]
names = ["bare actix-web", "watchpost, loopback allowlisted (shipped)", "watchpost, empty allowlist (gate + detectors on every request)", "watchpost, client banned (403 from the gate)"]
# The machine is shared: each round's ratio compares servers measured
# seconds apart, so the median of the per-round ratios is the figure.
for name, m, i in zip(names, med, range(4)):
    ratios = sorted(r[i] / r[0] for r in rows)
    print(f"{name}: median {m:,.0f} req/s; ratio to bare, median of rounds {statistics.median(ratios):.3f} ({ratios[0]:.3f}..{ratios[-1]:.3f})")
cost = sorted(r[2] / r[1] for r in rows)
print(f"empty allowlist / shipped, median of rounds: {statistics.median(cost):.3f} ({cost[0]:.3f}..{cost[-1]:.3f})")
PY
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=()
fi

if [[ " $parts " == *" spray "* ]]; then
  echo "== spray: $spray distinct addresses"
  mkdir -p "$work/spray"
  printf '[server]\ntrusted_proxies = ["127.0.0.1"]\n' >"$work/spray/watchpost.toml"
  port=$(free_port); pid=$(start spray "$port")
  wait_up "$port"
  sleep 5
  before=$(rss_kb "$pid" VmRSS)
  cat >"$work/spray.lua" <<LUA
local n = 0
local total = $spray
request = function()
  local i = n % total
  n = n + 1
  -- LuaJIT has no bit operators: the address is i in base 256 under 10.0.0.0/8.
  local ip = string.format("%d.%d.%d.%d", 10 + math.floor(i / 16777216), math.floor(i / 65536) % 256,
    math.floor(i / 256) % 256, i % 256)
  return wrk.format("GET", "/probe-" .. i, { ["X-Forwarded-For"] = ip })
end
LUA
  start_s=$(date +%s)
  sent=0
  while [ "$sent" -lt "$spray" ]; do
    # One wrk thread keeps one counter, so addresses never repeat before $spray.
    out=$("${on_client[@]}" wrk -t1 -c32 -d10s -s "$work/spray.lua" "http://127.0.0.1:$port" 2>&1)
    got=$(echo "$out" | awk '/requests in/ {print $1}')
    sent=$((sent + got))
    echo "  $sent requests sent"
    # wrk restarts its counter each run: continue where the last run stopped.
    sed -i "s/^local n = .*/local n = $sent/" "$work/spray.lua"
  done
  after=$(rss_kb "$pid" VmRSS); peak=$(rss_kb "$pid" VmHWM)
  echo "  sent $sent requests from $spray addresses in $(( $(date +%s) - start_s )) s"
  echo "  RSS before ${before} kB, after ${after} kB, peak ${peak} kB: growth $(( (after - before) / 1024 )) MiB (peak $(( (peak - before) / 1024 )) MiB; goal <= 64 MB)"
  sleep 65
  echo "  RSS 65 s later (idle keys dropped each minute): $(rss_kb "$pid" VmRSS) kB"
  kill "$pid"; wait "$pid" 2>/dev/null || true
fi

if [[ " $parts " == *" logs "* ]]; then
  echo "== logs: a ${log_mb} MiB nginx log"
  mkdir -p "$work/logs"
  log="$work/logs/access.log"; : >"$log"
  big="$work/logs/synthetic.log"
  python3 - "$big" "$log_mb" <<'PY'
import random, sys
# Synthetic, for this benchmark only: 1 line in 50 is a probe.
path, mib = sys.argv[1], int(sys.argv[2])
random.seed(7)
pages = ["/", "/blog/2026/11/release-notes", "/api/items?page=2", "/static/app.3f9c.js", "/login", "/images/logo.png"]
probes = ["/.env", "/wp-login.php", "/.git/config", "/index.php?id=1%20union%20select%201,2", "/../../etc/passwd"]
agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "curl/8.5.0", "sqlmap/1.8"]
lines = 0
with open(path, "w") as f:
    target = mib * 1024 * 1024
    written = 0
    chunk = []
    while written < target:
        ip = f"{random.randint(1, 223)}.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        probe = random.random() < 0.02
        path_ = random.choice(probes if probe else pages)
        status = 404 if probe else random.choice([200, 200, 200, 304, 301])
        ua = agents[2] if probe and random.random() < 0.2 else random.choice(agents[:2])
        line = f'{ip} - - [02/Dec/2026:10:{random.randint(0,59):02d}:{random.randint(0,59):02d} +0000] "GET {path_} HTTP/1.1" {status} {random.randint(100, 90000)} "-" "{ua}" 0.{random.randint(1, 999):03d}\n'
        chunk.append(line)
        written += len(line)
        lines += 1
        if len(chunk) >= 10000:
            f.write("".join(chunk)); chunk = []
    f.write("".join(chunk))
print(lines, file=sys.stderr)
PY
  lines=$(wc -l <"$big")
  bytes=$(stat -c %s "$big")
  cat >"$work/logs/watchpost.toml" <<TOML
admin_email = "bench@example.com"
admin_password = "orange kettle drums at noon, quietly"
[[threats.log_sources]]
id = "bench"
kind = "nginx"
path = "$log"
TOML
  port=$(free_port); pid=$(start logs "$port"); wait_up "$port"
  token=$(cd "$work/logs" && "$bin" token create --user bench@example.com --name bench --scope read)
  sleep 2
  read_lines() { curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/security/summary" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["lines"])'; }
  t0=$(date +%s.%N); c0=$(cpu_ticks "$pid")
  cat "$big" >>"$log"
  while [ "$(read_lines)" -lt "$lines" ]; do sleep 0.5; done
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  python3 - "$lines" "$bytes" "$t0" "$t1" "$c0" "$c1" "$(getconf CLK_TCK)" <<'PY'
import sys
lines, size, t0, t1, c0, c1, hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
wall, cpu = t1 - t0, (c1 - c0) / hz
print(f"  {lines:,} lines ({size / 2**20:,.0f} MiB, synthetic) read in {wall:.1f} s: {lines / wall:,.0f} lines/s, {size / 2**20 / wall:.1f} MiB/s")
print(f"  CPU: {cpu:.1f} s ({cpu / wall * 100:.0f}% of one core while reading), {cpu / (size / 2**30):.1f} CPU-s per GiB")
PY
  bans=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/bans" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "  bans made from the log: $bans"
fi
