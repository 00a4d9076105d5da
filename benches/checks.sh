#!/usr/bin/env bash
# Health-check scheduler benchmark, with the release build.
#
# A local target (the bare actix-web server of benches/bare_actix.rs) answers
# /health. Two Watchpost instances run side by side in the same run:
#   baseline — no checks of the team's (only the three self-checks);
#   loaded   — CHECKS (500) HTTP checks at a 30 s interval against the
#              target, provisioned from [[checks]] in watchpost.toml.
# After a warm-up of one interval plus 30 s, each process's CPU time over
# WINDOW seconds (default 300) is read from /proc (as % of one core), and its
# RSS is sampled every 10 s (median and maximum). The script also counts the
# results stored during the window, so a quiet scheduler cannot pass for a
# cheap one.
#
# Knobs: CHECKS (500), INTERVAL (30s), WINDOW (300).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
checks=${CHECKS:-500}
interval=${INTERVAL:-30s}
window=${WINDOW:-300}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in curl python3 sqlite3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --locked
cargo build --release --locked --features bench-baseline --bin bare-actix
bin="$root/target/release/watchpost"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

target_port=$(free_port)
"$root/target/release/bare-actix" "127.0.0.1:$target_port" >/dev/null 2>&1 &
pids+=($!)

start() { # DIR
  local dir=$1 port
  port=$(free_port)
  (cd "$dir" && env WATCHPOST_SERVER__BIND="127.0.0.1:$port" "$bin") >"$dir/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "${pids[-1]}"
}

mkdir -p "$work/baseline" "$work/loaded"
python3 - "$checks" "$interval" "$target_port" >"$work/loaded/watchpost.toml" <<'PY'
import sys
n, interval, port = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(n):
    print(f'[[checks]]\nid = "bench-{i}"\nname = "Bench target {i}"\nkind = "http"\n'
          f'url = "http://127.0.0.1:{port}/health?n={i}"\ninterval = "{interval}"\n'
          f'keyword = "ok"\ntags = ["bench"]\n')
PY
base_pid=$(start "$work/baseline")
load_pid=$(start "$work/loaded")
warm=$(python3 -c "import sys; s='$interval'; print(int(s[:-1]) * (60 if s.endswith('m') else 1) + 30)")
echo "warming up for $warm s ($checks checks every $interval)"
sleep "$warm"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
count() { sqlite3 "file:$1/data/watchpost.db?mode=ro" "SELECT count(*) FROM check_results" 2>/dev/null || echo 0; }
b0=$(ticks "$base_pid"); l0=$(ticks "$load_pid"); r0=$(count "$work/loaded")
samples_b=(); samples_l=()
end=$((SECONDS + window))
while [ "$SECONDS" -lt "$end" ]; do
  sleep 10
  samples_b+=("$(rss "$base_pid")"); samples_l+=("$(rss "$load_pid")")
done
b1=$(ticks "$base_pid"); l1=$(ticks "$load_pid"); r1=$(count "$work/loaded")
python3 - "$(getconf CLK_TCK)" "$window" "$b0" "$b1" "$l0" "$l1" "$r0" "$r1" "$checks" "$interval" \
  "${samples_b[*]}" "${samples_l[*]}" <<'PY'
import statistics, sys
hz, window, b0, b1, l0, l1, r0, r1 = (float(x) for x in sys.argv[1:9])
checks, interval = sys.argv[9], sys.argv[10]
rb = [int(x) / 1024 for x in sys.argv[11].split()]
rl = [int(x) / 1024 for x in sys.argv[12].split()]
cpu_b = (b1 - b0) / hz / window * 100
cpu_l = (l1 - l0) / hz / window * 100
print(f"{checks} HTTP checks every {interval}, window {window:.0f} s")
print(f"results stored in the window: {r1 - r0:.0f} ({(r1 - r0) / window:.1f}/s)")
print(f"CPU  baseline {cpu_b:.3f} %  loaded {cpu_l:.3f} % of one core  (ratio {cpu_l / max(cpu_b, 1e-9):.1f}x)")
print(f"RSS  baseline median {statistics.median(rb):.1f} MiB (max {max(rb):.1f})  "
      f"loaded median {statistics.median(rl):.1f} MiB (max {max(rl):.1f})  "
      f"(ratio {statistics.median(rl) / statistics.median(rb):.2f}x)")
PY
