#!/usr/bin/env bash
# HTTP benchmark: requests/s on GET /health for Watchpost (whole middleware
# stack, access log on) and for a bare actix-web hello-world built from this
# repository (benches/bare_actix.rs), measured alternately in the same run with
# wrk; prints the medians and their ratio. Also prints Watchpost's RSS after
# 60 s idle and the stripped release binary's size. A third server, Watchpost
# with logging.level=warn, shows what the per-request access log costs.
#
# Knobs: ROUNDS (5), DURATION (10s), CONNECTIONS (64), THREADS (2), IDLE_SECS (60).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-5}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
idle_secs=${IDLE_SECS:-60}
out="$root/target/bench"
mkdir -p "$out"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --locked
cargo build --release --locked --features bench-baseline --bin bare-actix

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_watchpost() { # name port [log level]
  mkdir -p "$work/$1"
  (cd "$work/$1" && WATCHPOST_SERVER__BIND="127.0.0.1:$2" WATCHPOST_LOGGING__LEVEL="${3:-info}" \
    exec "$root/target/release/watchpost") >"$work/$1.log" 2>&1 &
  pids+=($!)
  echo $!
}
wait_up() { for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "port $1 did not come up"; exit 1; }

idle_port=$(free_port)
idle_pid=$(start_watchpost idle "$idle_port")
idle_started=$(date +%s)
wp_port=$(free_port)
start_watchpost loaded "$wp_port" >/dev/null
quiet_port=$(free_port)
start_watchpost quiet "$quiet_port" warn >/dev/null
bare_port=$(free_port)
"$root/target/release/bare-actix" "127.0.0.1:$bare_port" >/dev/null 2>&1 &
pids+=($!)
wait_up "$idle_port"; wait_up "$wp_port"; wait_up "$quiet_port"; wait_up "$bare_port"

rps() { # port
  wrk -t"$threads" -c"$connections" -d"$duration" "http://127.0.0.1:$1/health" | awk '/Requests\/sec/ {print $2}'
}

# warm-up
wrk -t1 -c8 -d2s "http://127.0.0.1:$wp_port/health" >/dev/null
wrk -t1 -c8 -d2s "http://127.0.0.1:$bare_port/health" >/dev/null

: >"$out/rounds.txt"
echo "round bare watchpost watchpost-access-log-off"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    b=$(rps "$bare_port"); w=$(rps "$wp_port"); q=$(rps "$quiet_port")
  else
    q=$(rps "$quiet_port"); w=$(rps "$wp_port"); b=$(rps "$bare_port")
  fi
  echo "$r $b $w $q" | tee -a "$out/rounds.txt"
done

now=$(date +%s)
[ $((now - idle_started)) -lt "$idle_secs" ] && sleep $((idle_secs - (now - idle_started)))
idle_rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$idle_pid/status")
size=$(stat -c %s "$root/target/release/watchpost")

python3 - "$out/rounds.txt" "$idle_rss_kb" "$size" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
bare = statistics.median(float(r[1]) for r in rows)
wp = statistics.median(float(r[2]) for r in rows)
quiet = statistics.median(float(r[3]) for r in rows)
rss_mb = int(sys.argv[2]) / 1024
size_mb = int(sys.argv[3]) / 1e6
print(f"rounds: {len(rows)}")
print(f"bare actix-web  /health median: {bare:,.0f} req/s")
print(f"watchpost       /health median: {wp:,.0f} req/s")
print(f"ratio watchpost/bare: {wp / bare:.3f}  (goal >= 0.85)")
print(f"watchpost, access log off (logging.level=warn): {quiet:,.0f} req/s, ratio {quiet / bare:.3f}")
print(f"idle RSS after 60 s: {rss_mb:.1f} MB  (goal <= 30 MB)")
print(f"stripped binary: {size_mb:.1f} MB  (goal <= 25 MB)")
PY
