#!/usr/bin/env bash
# HTTP benchmark: requests/s on GET /health for Watchpost (whole middleware
# stack, access log on) and for a bare actix-web hello-world built from this
# repository (benches/bare_actix.rs), measured alternately in the same run with
# wrk. A third server, Watchpost with logging.level=warn, shows what the
# per-request access log costs. Prints each round, the medians, the ratio of
# the medians and the spread of the per-round ratios; then Watchpost's RSS
# after IDLE_SECS idle and the binary's size.
#
# To keep a shared machine's noise down, the servers run on one set of CPUs
# and wrk on another (taskset), so client and server never compete for a core;
# each server then starts one worker per CPU it may use. Rounds alternate the
# order of the servers, so drift in the machine's load hits all of them alike.
#
# Knobs (environment):
#   ROUNDS (11)         rounds; each runs wrk once against every server
#   DURATION (5s)       length of one wrk run
#   CONNECTIONS (64)    wrk keep-alive connections
#   THREADS (1)         wrk threads
#   SERVER_CPUS (0)     CPUs the servers are pinned to (taskset -c syntax)
#   CLIENT_CPUS (1)     CPUs wrk is pinned to
#   PIN (1)             0 runs everything unpinned (also the case on one CPU)
#   IDLE_SECS (60)      how long the idle instance waits before its RSS is read
#   PROFILE (release)   cargo profile to build and run; the binary size is
#                       only the shipped one's under release (stripped, LTO)
#   CARGO_TARGET_DIR    where the binaries are built (default target/)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-11}
duration=${DURATION:-5s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-1}
server_cpus=${SERVER_CPUS:-0}
client_cpus=${CLIENT_CPUS:-1}
pin=${PIN:-1}
idle_secs=${IDLE_SECS:-60}
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/$profile"
out="$target/bench"
mkdir -p "$out"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$(nproc)" -lt 2 ] && pin=0
if [ "$pin" = 1 ]; then
  on_servers=(taskset -c "$server_cpus")
  on_client=(taskset -c "$client_cpus")
else
  on_servers=()
  on_client=()
fi

cargo build --profile "$profile" --locked
cargo build --profile "$profile" --locked --features bench-baseline --bin bare-actix

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

start_watchpost() { # name port [log level]
  mkdir -p "$work/$1"
  (cd "$work/$1" && WATCHPOST_SERVER__BIND="127.0.0.1:$2" WATCHPOST_LOGGING__LEVEL="${3:-info}" \
    exec "${on_servers[@]}" "$bin/watchpost") >"$work/$1.log" 2>&1 &
  pids+=($!)
  echo $!
}
wait_up() { for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "port $1 did not come up"; exit 1; }

idle_port=$(free_port)
idle_pid=$(start_watchpost idle "$idle_port")
pids+=("$idle_pid") # started in a subshell, so recorded here for cleanup
idle_started=$(date +%s)
wp_port=$(free_port)
start_watchpost loaded "$wp_port" >/dev/null
quiet_port=$(free_port)
start_watchpost quiet "$quiet_port" warn >/dev/null
bare_port=$(free_port)
"${on_servers[@]}" "$bin/bare-actix" "127.0.0.1:$bare_port" >/dev/null 2>&1 &
pids+=($!)
wait_up "$idle_port"; wait_up "$wp_port"; wait_up "$quiet_port"; wait_up "$bare_port"

rps() { # port [duration]
  "${on_client[@]}" wrk -t"$threads" -c"$connections" -d"${2:-$duration}" "http://127.0.0.1:$1/health" |
    awk '/Requests\/sec/ {print $2}'
}

for port in "$bare_port" "$wp_port" "$quiet_port"; do rps "$port" 2s >/dev/null; done

: >"$out/rounds.txt"
echo "pinned: $([ "$pin" = 1 ] && echo "servers on CPU $server_cpus, wrk on CPU $client_cpus" || echo no)"
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
size=$(stat -c %s "$bin/watchpost")

python3 - "$out/rounds.txt" "$idle_rss_kb" "$size" "$idle_secs" "$profile" <<'PY'
import statistics, sys
rows = [[float(x) for x in line.split()[1:]] for line in open(sys.argv[1]) if line.strip()]
bare, wp, quiet = (statistics.median(r[i] for r in rows) for i in range(3))
ratios = sorted(r[1] / r[0] for r in rows)
quiet_ratios = sorted(r[2] / r[0] for r in rows)
rss_mb = int(sys.argv[2]) / 1024
size_mb = int(sys.argv[3]) / 1e6
print(f"rounds: {len(rows)}")
print(f"bare actix-web  /health median: {bare:,.0f} req/s")
print(f"watchpost       /health median: {wp:,.0f} req/s")
print(f"ratio watchpost/bare: {wp / bare:.3f}  (goal >= 0.85)")
print(f"  per-round ratios: median {statistics.median(ratios):.3f}, "
      f"min {ratios[0]:.3f}, max {ratios[-1]:.3f}")
print(f"watchpost, access log off (logging.level=warn): {quiet:,.0f} req/s, ratio {quiet / bare:.3f}"
      f" (per round {quiet_ratios[0]:.3f}..{quiet_ratios[-1]:.3f})")
print(f"idle RSS after {sys.argv[4]} s: {rss_mb:.1f} MB  (goal <= 30 MB)")
print(f"{sys.argv[5]} binary: {size_mb:.1f} MB  (goal <= 25 MB, stripped release)")
PY
