#!/usr/bin/env bash
# TCP route benchmark. One run measures, on this machine and on 127.0.0.1 only:
#   - throughput with iperf3 (1 and 8 parallel streams, client->server and reverse),
#   - new connections per second with gateway_bench_connrate (connect, 64-byte echo, close),
# each directly against the server, through gatewayd's TCP route and through HAProxy in TCP mode
# with the same number of threads. Prints a Markdown table; raw outputs go to bench/results/<time>/.
#
# Usage: bench/tcp.sh            (from the repository root or anywhere else)
# Environment:
#   BUILD_DIR       build tree holding bin/gatewayd (default build/release, built with the release
#                   preset; any other tree must already be configured and is built with cmake --build)
#   SKIP_BUILD=1    use the binaries as they are
#   JOBS            build parallelism (default 2)
#   DURATION        seconds per test (default 10)
#   STREAMS         iperf3 parallel stream counts (default "1 8")
#   REVERSE=0       skip the reverse-direction (-R) iperf3 tests
#   CONNRATE=0      skip the connection-rate test
#   CONCURRENCY     connrate concurrent connection loops (default 64)
#   CLIENT_THREADS  connrate client threads (default 1)
#   WORKERS         gatewayd node.workers and HAProxy nbthread (default 2)
#   TARGETS         subset of "direct gatewayd haproxy" (default all three)
#   GATEWAY_BUFFER_SIZE  gatewayd limits.buffer_size (default: the gateway's default, 64KiB)
#   HAPROXY_BUFSIZE      HAProxy tune.bufsize in bytes (default: HAProxy's default, 16384)
#   SYSCALLS=1      also count the proxies' system calls per test with perf (syscall tracepoints);
#                   this slows every system call a little, so the figures of such a run are not the
#                   reference ones. Counts per connection / per MB go to syscalls.md.
#   RESULTS_DIR     where raw outputs go (default bench/results/<date-time>)
set -euo pipefail

cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-"1 8"}
REVERSE=${REVERSE:-1}
CONNRATE=${CONNRATE:-1}
CONCURRENCY=${CONCURRENCY:-64}
CLIENT_THREADS=${CLIENT_THREADS:-1}
WORKERS=${WORKERS:-2}
TARGETS=${TARGETS:-"direct gatewayd haproxy"}
SYSCALLS=${SYSCALLS:-0}

BENCH_NAME=tcp.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root

for tool in iperf3 haproxy awk cmake timeout getconf; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if [ "$SYSCALLS" = 1 ]; then command -v perf >/dev/null || die "SYSCALLS=1 needs perf (Debian package linux-perf)"; fi

# --- build --------------------------------------------------------------------------------------------
targets_to_build=(gatewayd gateway_plugin_tcp gateway_bench_connrate)
build_targets "${targets_to_build[@]}"
GATEWAYD=$BUILD_DIR/bin/gatewayd
CONNRATE_BIN=$BUILD_DIR/bin/gateway_bench_connrate
case " $TARGETS " in *" gatewayd "*) [ -x "$GATEWAYD" ] || die "$GATEWAYD not built" ;; esac
[ -x "$CONNRATE_BIN" ] || die "$CONNRATE_BIN not built"

make_dirs gateway-bench

for port_name in IPERF_PORT ECHO_PORT GW_IPERF_PORT GW_ECHO_PORT HA_IPERF_PORT HA_ECHO_PORT; do
  free_port "$port_name"
done

iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >"$RESULTS_DIR/iperf3-server.log" 2>&1 &
pids+=($!)
IPERF_PID=$!
wait_for "$IPERF_PID" 10 port_listening "$IPERF_PORT" || die "iperf3 server did not start (see $RESULTS_DIR/iperf3-server.log)"

"$CONNRATE_BIN" server --host 127.0.0.1 --port "$ECHO_PORT" --threads 2 >"$RESULTS_DIR/echo-server.log" 2>&1 &
pids+=($!)
ECHO_PID=$!
wait_for "$ECHO_PID" 10 port_listening "$ECHO_PORT" || die "echo server did not start (see $RESULTS_DIR/echo-server.log)"

declare -A PORT_IPERF=([direct]=$IPERF_PORT [gatewayd]=$GW_IPERF_PORT [haproxy]=$HA_IPERF_PORT)
declare -A PORT_ECHO=([direct]=$ECHO_PORT [gatewayd]=$GW_ECHO_PORT [haproxy]=$HA_ECHO_PORT)
declare -A PROXY_PID=()

case " $TARGETS " in
  *" gatewayd "*)
    cat >"$RESULTS_DIR/gatewayd.yaml" <<EOF
node:
  name: bench
  role: edge
  workers: $WORKERS
  drain_timeout: 1s
log:
  level: warn
  format: text
audit:
  level: off
limits:
  connect_timeout: 5s
  idle_timeout: 5m
  max_connections: 8000
${GATEWAY_BUFFER_SIZE:+  buffer_size: $GATEWAY_BUFFER_SIZE
}destinations:
  - name: iperf3
    route_type: tcp
    address: 127.0.0.1:$IPERF_PORT
    proxy_type: internet
    entry_point:
      listen: 127.0.0.1:$GW_IPERF_PORT
  - name: echo
    route_type: tcp
    address: 127.0.0.1:$ECHO_PORT
    proxy_type: internet
    entry_point:
      listen: 127.0.0.1:$GW_ECHO_PORT
EOF
    "$GATEWAYD" check --config "$RESULTS_DIR/gatewayd.yaml" >"$RESULTS_DIR/gatewayd-check.log" 2>&1 ||
      die "gatewayd check failed: $(cat "$RESULTS_DIR/gatewayd-check.log")"
    "$GATEWAYD" run --config "$RESULTS_DIR/gatewayd.yaml" >"$RESULTS_DIR/gatewayd.log" 2>&1 &
    pids+=($!)
    PROXY_PID[gatewayd]=$!
    # At log level warn the start-up records (event=ready) are not written: wait for the entry points.
    wait_for "${PROXY_PID[gatewayd]}" 20 port_listening "$GW_IPERF_PORT" ||
      die "gatewayd did not start (see $RESULTS_DIR/gatewayd.log)"
    wait_for "${PROXY_PID[gatewayd]}" 20 port_listening "$GW_ECHO_PORT" ||
      die "gatewayd did not start (see $RESULTS_DIR/gatewayd.log)"
    ;;
esac

case " $TARGETS " in
  *" haproxy "*)
    cat >"$WORK/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
  maxconn 8000
${HAPROXY_BUFSIZE:+  tune.bufsize $HAPROXY_BUFSIZE
}
defaults
  mode tcp
  timeout connect 5s
  timeout client 5m
  timeout server 5m

listen iperf3
  bind 127.0.0.1:$HA_IPERF_PORT
  server iperf3 127.0.0.1:$IPERF_PORT

listen echo
  bind 127.0.0.1:$HA_ECHO_PORT
  server echo 127.0.0.1:$ECHO_PORT
EOF
    cp "$WORK/haproxy.cfg" "$RESULTS_DIR/haproxy.cfg"
    haproxy -db -f "$WORK/haproxy.cfg" >"$RESULTS_DIR/haproxy.log" 2>&1 &
    pids+=($!)
    PROXY_PID[haproxy]=$!
    wait_for "${PROXY_PID[haproxy]}" 20 port_listening "$HA_ECHO_PORT" ||
      die "haproxy did not start (see $RESULTS_DIR/haproxy.log)"
    wait_for "${PROXY_PID[haproxy]}" 20 port_listening "$HA_IPERF_PORT" ||
      die "haproxy did not start (see $RESULTS_DIR/haproxy.log)"
    ;;
esac

# --- measurements ---------------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
# CPU time (ticks) used so far by a process, all threads; 0 for none.
process_ticks() {
  [ -n "${1:-}" ] || {
    echo 0
    return
  }
  awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Busy and total ticks of the whole machine.

# CPU ticks of every user-space process other than the benchmark's own servers and proxies, "PID TICKS"
# per line, into FILE. Clients run by this script are not in it: they start after the first snapshot and
# end before the second.
other_process_ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v own=" ${pids[*]} " '{
      pid = $1; sub(/^.*\) /, "")  # fields now start at the state (field 3)
      if (int($7 / 2097152) % 2 == 1) next  # PF_KTHREAD: kernel threads carry the loopback work
      if (index(own, " " pid " ")) next
      print pid, $12 + $13 }' >"$1"
}
# System calls counted with SYSCALLS=1.
SYSCALL_NAMES="accept accept4 socket connect poll getsockopt setsockopt getsockname getpeername ioctl fcntl
  recvfrom sendto read write readv writev recvmsg sendmsg splice shutdown close epoll_wait epoll_ctl futex
  clock_gettime timerfd_settime"
SYSCALL_EVENTS=raw_syscalls:sys_enter
for name in $SYSCALL_NAMES; do SYSCALL_EVENTS="$SYSCALL_EVENTS,syscalls:sys_enter_$name"; done
slug() { echo "$1" | tr -c 'A-Za-z0-9\n' '-' | sed 's/--*/-/g; s/-$//'; }


# measure TEST TARGET COMMAND...: runs the command (raw output to stdout), recording proxy and machine CPU.
measure() {
  local test=$1 target=$2
  shift 2
  local pid=${PROXY_PID[$target]:-} t0 t1 p0 p1 m0 m1 other counter="" status=0
  if [ "$SYSCALLS" = 1 ] && [ -n "$pid" ]; then
    perf stat -x, -e "$SYSCALL_EVENTS" -p "$pid" -o "$RESULTS_DIR/syscalls-$(slug "$test")-$target.csv" \
      -- sleep "$DURATION" >/dev/null 2>&1 &
    counter=$!
  fi
  p0=$(process_ticks "$pid")
  other_process_ticks "$WORK/other.0"
  m0=$(machine_ticks)
  t0=$(date +%s.%N)
  "$@" || status=$?
  t1=$(date +%s.%N)
  m1=$(machine_ticks)
  other_process_ticks "$WORK/other.1"
  p1=$(process_ticks "$pid")
  if [ -n "$counter" ]; then wait "$counter" || true; fi
  CPU[$test|$target]=$(awk -v a="$p0" -v b="$p1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v pid="$pid" \
    'BEGIN { if (pid == "") print "-"; else printf "%.0f%%", 100 * (b - a) / hz / (t1 - t0) }')
  BUSY[$test|$target]=$(echo "$m0 $m1" | awk '{ printf "%.0f%%", 100 * ($3 - $1) / ($4 - $2) }')
  # Share of the machine used by other processes during the test (a busy machine skews the figures).
  other=$(awk -v total="$(echo "$m0 $m1" | awk '{ print $4 - $2 }')" \
    'FNR == NR { before[$1] = $2; next } { sum += $2 - before[$1] }
     END { printf "%.0f", (total > 0 ? 100 * sum / total : 0) }' "$WORK/other.0" "$WORK/other.1")
  [ "$other" -gt "$OTHER_MAX" ] && OTHER_MAX=$other
  echo "$test | $target | proxy ${CPU[$test|$target]} | machine busy ${BUSY[$test|$target]} | other processes ${other}%" \
    >>"$RESULTS_DIR/cpu.txt"
  return $status
}

# Bytes received, in MB (1e6), from iperf3 -J output.
iperf_megabytes() {
  awk '/"sum_received":/ { in_sum = 1 }
       in_sum && /"bytes":/ { gsub(/[^0-9]/, "", $2); printf "%.1f", $2 / 1e6; exit }' "$1"
}
TESTS=()               # tests in the order they ran
declare -A UNITS=()    # "test|target" -> MB transferred or connections made, for per-unit system call counts

run_iperf() {
  local streams=$1 reverse=$2 target test file
  test="iperf3 -P $streams${reverse:+ -R}"
  TESTS+=("$test")
  for target in $TARGETS; do
    file="$RESULTS_DIR/iperf3-$target-P$streams${reverse:+-R}.json"
    note "$test -> $target"
    measure "$test" "$target" timeout $((DURATION + 30)) \
      iperf3 -c 127.0.0.1 -p "${PORT_IPERF[$target]}" -t "$DURATION" -P "$streams" ${reverse:+"$reverse"} -J >"$file" 2>&1 || true
    RESULT[$test|$target]=$(iperf_gbits "$file")
    UNITS[$test|$target]=$(iperf_megabytes "$file")
    sleep 1
  done
}

run_connrate() {
  local target file test="connrate"
  TESTS+=("$test")
  for target in $TARGETS; do
    file="$RESULTS_DIR/connrate-$target.txt"
    note "connrate c=$CONCURRENCY -> $target"
    measure "$test" "$target" timeout $((DURATION + 30)) \
      "$CONNRATE_BIN" client --host 127.0.0.1 --port "${PORT_ECHO[$target]}" --concurrency "$CONCURRENCY" \
      --seconds "$DURATION" --threads "$CLIENT_THREADS" >"$file" 2>&1 || true
    RESULT[$test|$target]=$(connrate_field "$file" conn_per_sec)
    UNITS[$test|$target]=$(connrate_field "$file" connections)
    RESULT[p50|$target]=$(awk -v us="$(connrate_field "$file" p50_us)" 'BEGIN { if (us == "") print "error"; else printf "%.2f", us / 1000 }')
    RESULT[p99|$target]=$(awk -v us="$(connrate_field "$file" p99_us)" 'BEGIN { if (us == "") print "error"; else printf "%.2f", us / 1000 }')
    if grep -q '^connections=' "$file"; then
      RESULT[errors|$target]=$(($(connrate_field "$file" errors 0) + $(connrate_field "$file" timeouts 0)))
    else
      RESULT[errors|$target]=error
    fi
    sleep 2  # let the TIME_WAIT sockets of the previous target age a little
  done
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -x "$GATEWAYD" ]; then echo "gatewayd: $("$GATEWAYD" --version 2>&1 | head -n 1) ($GATEWAYD)"; fi
  echo "haproxy: $(haproxy -v 2>&1 | head -n 1)"
  echo "iperf3: $(iperf3 --version 2>&1 | head -n 1)"
  echo "settings: DURATION=$DURATION STREAMS=\"$STREAMS\" REVERSE=$REVERSE CONCURRENCY=$CONCURRENCY" \
    "CONNRATE=$CONNRATE CLIENT_THREADS=$CLIENT_THREADS WORKERS=$WORKERS TARGETS=\"$TARGETS\"" \
    "GATEWAY_BUFFER_SIZE=${GATEWAY_BUFFER_SIZE:-default} HAPROXY_BUFSIZE=${HAPROXY_BUFSIZE:-default} SYSCALLS=$SYSCALLS"
} >"$RESULTS_DIR/environment.txt"
note "load before: $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS_DIR"

for streams in $STREAMS; do
  run_iperf "$streams" ""
  if [ "$REVERSE" = 1 ]; then run_iperf "$streams" -R; fi
done
if [ "$CONNRATE" = 1 ]; then run_connrate; fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/environment.txt"

# --- report -------------------------------------------------------------------------------------------------
# versus_haproxy TEST GOAL: gatewayd/haproxy and whether it meets the target (empty when either side is missing)
versus_haproxy() {
  awk -v g="$(cell "$1" gatewayd)" -v h="$(cell "$1" haproxy)" -v goal="$2" 'BEGIN {
    if (g !~ /^[0-9.]+$/ || h !~ /^[0-9.]+$/ || h == 0) { print "- | -"; exit }
    r = g / h
    printf "%.2f | %s\n", r, (goal == "" ? "" : (r >= goal ? "meets (>= " goal ")" : "misses (>= " goal ")")) }'
}
row() {  # row TEST LABEL GOAL [WITH_CPU]
  local test=$1 label=$2 goal=$3 with_cpu=${4:-1} cpu_g="" cpu_h="" busy=""
  if [ "$with_cpu" = 1 ]; then
    cpu_g=${CPU[$test|gatewayd]:--}
    cpu_h=${CPU[$test|haproxy]:--}
    busy="${BUSY[$test|direct]:--} / ${BUSY[$test|gatewayd]:--} / ${BUSY[$test|haproxy]:--}"
  fi
  echo "| $label | $(cell "$test" direct) | $(cell "$test" gatewayd) | $(cell "$test" haproxy) | $(versus_haproxy "$test" "$goal") | $cpu_g | $cpu_h | $busy |"
}
{
  echo "| Test | direct | gatewayd | haproxy | gatewayd / haproxy | target | gatewayd CPU | haproxy CPU | machine busy (d / g / h) |"
  echo "|---|---:|---:|---:|---:|---|---:|---:|---|"
  for streams in $STREAMS; do
    row "iperf3 -P $streams" "iperf3 -P $streams, Gbit/s" 1
    if [ "$REVERSE" = 1 ]; then row "iperf3 -P $streams -R" "iperf3 -P $streams -R, Gbit/s" 1; fi
  done
  if [ "$CONNRATE" = 1 ]; then
    row connrate "connections/s (c=$CONCURRENCY)" 0.8
    row p50 "connect+echo p50, ms" "" 0
    row p99 "connect+echo p99, ms" "" 0
    row errors "connection errors" "" 0
  fi
} >"$RESULTS_DIR/summary.md"
cat "$RESULTS_DIR/summary.md"

if [ "$SYSCALLS" = 1 ]; then
  for test in "${TESTS[@]}"; do
    unit="MB transferred"
    [ "$test" = connrate ] && unit=connection
    echo
    echo "System calls per $unit, $test:"
    echo
    echo "| system call | gatewayd | haproxy |"
    echo "|---|---:|---:|"
    g="$RESULTS_DIR/syscalls-$(slug "$test")-gatewayd.csv"
    h="$RESULTS_DIR/syscalls-$(slug "$test")-haproxy.csv"
    [ -f "$g" ] || g=/dev/null
    [ -f "$h" ] || h=/dev/null
    awk -F, -v g="$g" -v ug="${UNITS[$test|gatewayd]:-0}" -v uh="${UNITS[$test|haproxy]:-0}" '
      function per(x, u) { return (x !~ /^[0-9]/ || u + 0 == 0) ? "-" : sprintf("%.2f", x / u) }
      /^#/ || NF < 3 { next }
      { name = $3; sub(/^syscalls:sys_enter_/, "", name); if (name == "raw_syscalls:sys_enter") name = "all"
        if (!(name in seen)) { seen[name] = 1; order[++n] = name }
        count[(FILENAME == g ? "g" : "h"), name] = $1 }
      END { for (i = 1; i <= n; i++) {
              name = order[i]; a = count["g", name]; b = count["h", name]
              pa = per(a, ug); pb = per(b, uh)
              if ((pa == "-" || pa + 0 < 0.005) && (pb == "-" || pb + 0 < 0.005)) continue
              printf "| %s | %s | %s |\n", name, pa, pb } }' "$g" "$h"
  done | tee "$RESULTS_DIR/syscalls.md"
fi
echo
echo "CPU: proxy process time as % of one core; machine busy: all $(nproc) cores. Highest share of the machine"
echo "used outside the benchmark's processes during a test: ${OTHER_MAX}% (see cpu.txt). Raw outputs: $RESULTS_DIR"
