# Shared by the benchmark scripts (bench/tcp.sh, bench/tunnel.sh): build, process clean-up, ports,
# polling and result parsing. The sourcing script sets BENCH_NAME, BUILD_DIR, JOBS and RESULTS_DIR.
# shellcheck shell=bash

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}
note() { echo "$BENCH_NAME: $*" >&2; }

# build_targets TARGET...: builds them in BUILD_DIR (the release preset when BUILD_DIR is
# build/release) unless SKIP_BUILD=1, then makes BUILD_DIR absolute.
build_targets() {
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    if [ "$BUILD_DIR" = build/release ]; then
      [ -f build/release/build.ninja ] || cmake --preset release >/dev/null
      cmake --build --preset release -j "$JOBS" --target "$@" >/dev/null ||
        die "build failed (cmake --build --preset release --target $*)"
    else
      [ -f "$BUILD_DIR/CMakeCache.txt" ] || die "$BUILD_DIR is not a configured build tree"
      cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@" >/dev/null ||
        die "build failed (cmake --build $BUILD_DIR --target $*)"
    fi
  fi
  BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
}

# make_dirs PREFIX: creates RESULTS_DIR (made absolute) and the scratch directory WORK.
make_dirs() {
  mkdir -p "$RESULTS_DIR"
  RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
}

# --- processes ----------------------------------------------------------------------------------------
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port is in use when any socket (any state) has it as its local port.
port_in_use() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
port_listening() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# free_port VAR: sets VAR to a free port below the ephemeral range (so that the clients' own ports
# cannot take it), different from the ports already handed out.
taken_ports=" "
free_port() {
  local low port
  low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range)
  [ "$low" -gt 20000 ] || low=60000
  for _ in $(seq 200); do
    port=$((15000 + RANDOM % (low - 15000)))
    case "$taken_ports" in *" $port "*) continue ;; esac
    port_in_use "$port" && continue
    taken_ports="$taken_ports$port "
    printf -v "$1" '%s' "$port"
    return 0
  done
  die "no free port found"
}
# wait_for PID SECONDS CHECK... : polls CHECK until it succeeds; fails if PID exits first.
wait_for() {
  local pid=$1 seconds=$2
  shift 2
  for _ in $(seq $((seconds * 20))); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# iperf_gbits FILE: the receiver's rate from iperf3's JSON output, in Gbit/s.
iperf_gbits() {
  awk '/"sum_received":/ { in_sum = 1 }
       in_sum && /"bits_per_second":/ { gsub(/[^0-9.eE+-]/, "", $2); printf "%.2f", $2 / 1e9; found = 1; exit }
       END { if (!found) print "error" }' "$1"
}
# connrate_field FILE KEY [DEFAULT]: a value from a logfmt result line (connrate, the idle tool).
connrate_field() {
  local value
  value=$(sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" "$1" | head -n 1)
  echo "${value:-${3:-}}"
}
