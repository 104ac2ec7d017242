#!/usr/bin/env bash
# Reverse-tunnel benchmark. One run measures, on this machine and on 127.0.0.1 only, four paths to the
# same backends:
#   direct    the client talks to the backend;
#   gatewayd  client -> gatewayd edge (entry point) -> mutual-TLS HTTP/2 tunnel -> gatewayd connector
#             -> backend: two processes, the connector dials the edge;
#   stunnel   client -> stunnel (client mode, plain in, TLS 1.3 out) -> stunnel (server mode) -> backend;
#   haproxy   client -> HAProxy A (mode tcp, plain in, TLS 1.3 out) -> HAProxy B (TLS in) -> backend.
# Both pairs use mutual TLS, as the tunnel does: each side verifies the other's certificate.
# Tests, for every path:
#   - iperf3 throughput, 1 and 8 parallel streams, client->server and reverse (-R);
#   - HTTP requests per second with p50/p99 latency: wrk against nginx serving a small static file;
#   - new connections per second with gateway_bench_connrate (connect, 64-byte echo, close);
#   - memory per idle connection: RSS of each proxy process before and after
#     gateway_bench_idle has opened (and echoed once over) IDLE_CONNECTIONS connections, measured
#     first, on the freshly started processes.
# Prints Markdown tables; raw outputs go to bench/results/<time>/.
#
# Usage: bench/tunnel.sh            (from the repository root or anywhere else)
# Environment:
#   BUILD_DIR       build tree holding bin/gatewayd and the bench tools (default build/release, built with
#                   the release preset; any other tree must already be configured and is built with
#                   cmake --build)
#   SKIP_BUILD=1    use the binaries as they are
#   JOBS            build parallelism (default 2)
#   ONLY            subset of "direct gatewayd stunnel haproxy" (default all four)
#   TESTS           subset of "idle iperf wrk connrate" (default all four)
#   DURATION        seconds per test (default 10; "10s" is accepted)
#   STREAMS         iperf3 parallel stream counts (default "1 8")
#   REVERSE=0       skip the reverse-direction (-R) iperf3 tests
#   WRK_THREADS     wrk threads (default 1)
#   WRK_CONNECTIONS wrk connections (default 50)
#   CONCURRENCY     connrate concurrent connection loops (default 64)
#   CLIENT_THREADS  connrate client threads (default 1)
#   SKIP_IDLE=1     skip the idle-memory test (same as leaving idle out of TESTS)
#   IDLE_CONNECTIONS  idle connections held open (default 10000)
#   IDLE_PATHS      paths given the idle test (default "gatewayd haproxy"; stunnel runs one thread per
#                   connection, so "stunnel" there needs 2 x IDLE_CONNECTIONS threads)
#   GATEWAY_WORKERS node.workers of the edge and of the connector, and nbthread of both HAProxy processes
#                   (default 1)
#   TUNNEL_CONNECTIONS   connector.connections_per_edge (default 2, the gateway's default)
#   GATEWAY_MAX_STREAMS  max_concurrent_streams on both sides of the tunnel (default: enough for all
#                   idle connections on one tunnel connection; the gateway's default is 1024)
#   GATEWAY_BUFFER_SIZE  limits.buffer_size of edge and connector (default: the gateway's default)
#   HAPROXY_BUFSIZE      HAProxy tune.bufsize in bytes (default: HAProxy's default, 16384)
#   PAIR_CIPHERSUITES    TLS 1.3 cipher suites of the TLS pairs (default TLS_AES_128_GCM_SHA256, the one
#                        gatewayd's tunnel negotiates)
#   RESULTS_DIR     where raw outputs go (default bench/results/<date-time>)
set -euo pipefail

cd "$(dirname "$0")/.."

ALL_PATHS="direct gatewayd stunnel haproxy"
ALL_TESTS="idle iperf wrk connrate"
STREAMS=${STREAMS:-"1 8"}
REVERSE=${REVERSE:-1}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-50}
CONCURRENCY=${CONCURRENCY:-64}
CLIENT_THREADS=${CLIENT_THREADS:-1}
SKIP_IDLE=${SKIP_IDLE:-0}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
IDLE_PATHS=${IDLE_PATHS:-"gatewayd haproxy"}
GATEWAY_MAX_STREAMS=${GATEWAY_MAX_STREAMS:-$((IDLE_CONNECTIONS > 1024 ? IDLE_CONNECTIONS + 100 : 1024))}

BENCH_NAME=tunnel.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root

require_positive IDLE_CONNECTIONS
select_paths
select_tests
IDLE_LIST=""
if [ "$SKIP_IDLE" != 1 ] && has_test idle; then
  for path in $IDLE_PATHS; do
    [ "$path" = direct ] && continue
    has_path "$path" && IDLE_LIST="$IDLE_LIST $path"
  done
  IDLE_LIST=${IDLE_LIST# }
fi

for tool in iperf3 wrk nginx openssl awk cmake timeout getconf; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if has_path haproxy; then command -v haproxy >/dev/null || die "haproxy not found"; fi
if has_path stunnel; then command -v stunnel >/dev/null || die "stunnel not found (Debian package stunnel4)"; fi

# --- descriptors and threads for the idle test -----------------------------------------------------------
# Every process started here inherits the limit. A pair's proxy holds two sockets per connection; the
# edge and the connector hold one each (the other side is a stream of a shared tunnel connection).
# When the limit cannot be raised (root without CAP_SYS_RESOURCE, for one), a path gets as many
# connections as fit, and the table shows how many that was.
declare -A IDLE_COUNT=()  # path -> connections to open
if [ -n "$IDLE_LIST" ]; then
  need=$((2 * IDLE_CONNECTIONS + 4096))
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
    ulimit -Hn "$need" 2>/dev/null || true  # needs CAP_SYS_RESOURCE
  fi
  if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
  fi
  fd_limit=$(ulimit -Sn)
  [ "$fd_limit" = unlimited ] && fd_limit=$need
  for path in $IDLE_LIST; do
    per_connection=2
    [ "$path" = gatewayd ] && per_connection=1
    fit=$(((fd_limit - 512) / per_connection))
    IDLE_COUNT[$path]=$((fit < IDLE_CONNECTIONS ? fit : IDLE_CONNECTIONS))
    [ "${IDLE_COUNT[$path]}" -gt 0 ] || die "the open files limit ($fd_limit) is too low for the idle test (SKIP_IDLE=1)"
    if [ "${IDLE_COUNT[$path]}" -lt "$IDLE_CONNECTIONS" ]; then
      note "idle: the open files limit is $fd_limit and cannot be raised: $path gets ${IDLE_COUNT[$path]} connections"
    fi
  done
  if [ -n "${IDLE_COUNT[stunnel]:-}" ]; then
    # stunnel runs a thread per connection in each of its two processes.
    tasks=$(find /proc/[0-9]*/task -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    pid_max=$(cat /proc/sys/kernel/pid_max)
    threads_max=$(cat /proc/sys/kernel/threads-max)
    limit=$((pid_max < threads_max ? pid_max : threads_max))
    [ $((tasks + 2 * IDLE_COUNT[stunnel] + 4096)) -le "$limit" ] ||
      die "the stunnel idle test needs $((2 * IDLE_COUNT[stunnel])) threads; $tasks tasks exist and the" \
        "limit is $limit (take stunnel out of IDLE_PATHS or lower IDLE_CONNECTIONS)"
  fi
fi

# --- build --------------------------------------------------------------------------------------------
targets_to_build=(gateway_bench_connrate gateway_bench_idle)
if has_path gatewayd; then targets_to_build+=(gatewayd gateway_plugin_tcp); fi
build_targets "${targets_to_build[@]}"
GATEWAYD=$BUILD_DIR/bin/gatewayd
CONNRATE_BIN=$BUILD_DIR/bin/gateway_bench_connrate
IDLE_BIN=$BUILD_DIR/bin/gateway_bench_idle
if has_path gatewayd; then [ -x "$GATEWAYD" ] || die "$GATEWAYD not built"; fi
[ -x "$CONNRATE_BIN" ] || die "$CONNRATE_BIN not built"
[ -x "$IDLE_BIN" ] || die "$IDLE_BIN not built"

make_dirs gateway-tunnel-bench


SERVICES="iperf http echo"
declare -A PORT=()       # "path:service" -> port the client connects to
declare -A PATH_PIDS=()  # path -> pids of its proxy processes
declare -A LABEL=()      # pid -> "path process-name"
for service in $SERVICES; do free_port "PORT[direct:$service]"; done

# --- certificates ---------------------------------------------------------------------------------------
# The pairs get their own EC P-256 CA, a server certificate for relay.test / 127.0.0.1 and a client
# certificate, from openssl; gatewayd gets its own from `gatewayd certs`.
mkdir -p "$WORK/pki"
if has_path stunnel || has_path haproxy; then
  make_pair_pki "$WORK/pki"
fi
has_path gatewayd && make_gatewayd_certs "$GATEWAYD" "$WORK/certs"

# --- backends -----------------------------------------------------------------------------------------
start "$RESULTS_DIR/iperf3-server.log" iperf3 -s -B 127.0.0.1 -p "${PORT[direct:iperf]}"
wait_for "$started" 10 port_listening "${PORT[direct:iperf]}" ||
  die "iperf3 server did not start (see $RESULTS_DIR/iperf3-server.log)"

start "$RESULTS_DIR/echo-server.log" "$CONNRATE_BIN" server --host 127.0.0.1 --port "${PORT[direct:echo]}" --threads 2
wait_for "$started" 10 port_listening "${PORT[direct:echo]}" ||
  die "echo server did not start (see $RESULTS_DIR/echo-server.log)"

# nginx in the foreground as the current user, everything it writes in the work directory. A keep-alive
# connection is never closed by nginx, so that wrk measures requests rather than connection set-up.
mkdir -p "$WORK/nginx/html"
awk 'BEGIN { printf "<!doctype html><title>bench</title><p>"; for (i = 0; i < 200; i++) printf "x"; print "</p>" }' \
  >"$WORK/nginx/html/index.html"
HTTP_BODY_BYTES=$(wc -c <"$WORK/nginx/html/index.html")
{
  echo "daemon off;"
  echo "master_process on;"
  echo "worker_processes 1;"
  echo "pid $WORK/nginx/nginx.pid;"
  echo "error_log $WORK/nginx/error.log warn;"
  if [ "$(id -u)" = 0 ]; then echo "user $(id -un) $(id -gn);"; fi
  cat <<EOF
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 5m;
  default_type text/html;
  server {
    listen 127.0.0.1:${PORT[direct:http]};
    root $WORK/nginx/html;
  }
}
EOF
} >"$WORK/nginx/nginx.conf"
cp "$WORK/nginx/nginx.conf" "$RESULTS_DIR/nginx.conf"
nginx -t -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" >"$RESULTS_DIR/nginx-check.log" 2>&1 ||
  die "nginx rejected its configuration: $(cat "$RESULTS_DIR/nginx-check.log")"
start "$RESULTS_DIR/nginx.log" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
wait_for "$started" 10 port_listening "${PORT[direct:http]}" ||
  die "nginx did not start (see $RESULTS_DIR/nginx.log and $WORK/nginx/error.log)"

# --- gatewayd: edge + connector -------------------------------------------------------------------------
declare -A VIRTUAL_PORT=([iperf]=5201 [http]=80 [echo]=7)
MAX_CONNECTIONS=$((IDLE_CONNECTIONS + 1000 > 8000 ? IDLE_CONNECTIONS + 1000 : 8000))
if has_path gatewayd; then
  destinations=""
  systems=""
  for service in $SERVICES; do
    free_port "PORT[gatewayd:$service]"
    destinations+=${destinations:+$'\n'}$(gatewayd_destination "$service" tcp \
      "$service.bench:${VIRTUAL_PORT[$service]}" "${PORT[gatewayd:$service]}")
    systems+=${systems:+$'\n'}$(gatewayd_system "$service.bench" "${VIRTUAL_PORT[$service]}" \
      "${PORT[direct:$service]}" tcp)
  done
  GATEWAYD_CHECK_HINT="ONLY=\"direct stunnel haproxy\" runs without gatewayd"
  start_gatewayd_pair gatewayd "$destinations" "$systems" "${PORT[gatewayd:iperf]}" "${PORT[gatewayd:http]}" \
    "${PORT[gatewayd:echo]}"
fi

# --- stunnel pair -------------------------------------------------------------------------------------
if has_path stunnel; then
  for service in $SERVICES; do
    free_port "PORT[stunnel:$service]"
    free_port "PORT[stunnel-tls:$service]"
  done
  stunnel_global() {  # stunnel_global NAME
    cat <<EOF
foreground = yes
syslog = no
pid = $WORK/stunnel-$1.pid
; warning: notice would log every connection
debug = warning
EOF
  }
  {
    stunnel_global client
    for service in $SERVICES; do
      cat <<EOF
[$service]
client = yes
accept = 127.0.0.1:${PORT[stunnel:$service]}
connect = 127.0.0.1:${PORT[stunnel-tls:$service]}
sni = relay.test
cert = $WORK/pki/client.pem
key = $WORK/pki/client.key
CAfile = $WORK/pki/ca.pem
verifyChain = yes
checkHost = relay.test
sslVersionMin = TLSv1.3
ciphersuites = $PAIR_CIPHERSUITES
EOF
    done
  } >"$WORK/stunnel-client.conf"
  {
    stunnel_global server
    for service in $SERVICES; do
      cat <<EOF
[$service]
accept = 127.0.0.1:${PORT[stunnel-tls:$service]}
connect = 127.0.0.1:${PORT[direct:$service]}
cert = $WORK/pki/server.pem
key = $WORK/pki/server.key
CAfile = $WORK/pki/ca.pem
requireCert = yes
verifyChain = yes
sslVersionMin = TLSv1.3
ciphersuites = $PAIR_CIPHERSUITES
EOF
    done
  } >"$WORK/stunnel-server.conf"
  cp "$WORK/stunnel-client.conf" "$WORK/stunnel-server.conf" "$RESULTS_DIR/"
  start "$RESULTS_DIR/stunnel-server.log" stunnel "$WORK/stunnel-server.conf"
  STUNNEL_SERVER_PID=$started
  wait_for "$STUNNEL_SERVER_PID" 20 all_listening "${PORT[stunnel-tls:iperf]}" "${PORT[stunnel-tls:http]}" \
    "${PORT[stunnel-tls:echo]}" || die "stunnel (server) did not start (see $RESULTS_DIR/stunnel-server.log)"
  start "$RESULTS_DIR/stunnel-client.log" stunnel "$WORK/stunnel-client.conf"
  STUNNEL_CLIENT_PID=$started
  wait_for "$STUNNEL_CLIENT_PID" 20 all_listening "${PORT[stunnel:iperf]}" "${PORT[stunnel:http]}" \
    "${PORT[stunnel:echo]}" || die "stunnel (client) did not start (see $RESULTS_DIR/stunnel-client.log)"
  PATH_PIDS[stunnel]="$STUNNEL_CLIENT_PID $STUNNEL_SERVER_PID"
  LABEL[$STUNNEL_CLIENT_PID]="stunnel client"
  LABEL[$STUNNEL_SERVER_PID]="stunnel server"
fi

# --- HAProxy pair -------------------------------------------------------------------------------------
if has_path haproxy; then
  pair=()
  for service in $SERVICES; do
    free_port "PORT[haproxy:$service]"
    free_port "PORT[haproxy-tls:$service]"
    pair+=("$service:${PORT[haproxy:$service]}:${PORT[haproxy-tls:$service]}:${PORT[direct:$service]}")
  done
  start_haproxy_pair haproxy "$GATEWAY_WORKERS" "${pair[@]}"
fi

# Every path must carry an echo end to end before anything is measured: a TLS or allowlist mistake shows
# here, not as a column of zeros.
for path in $PATHS; do
  if ! "$CONNRATE_BIN" client --host 127.0.0.1 --port "${PORT[$path:echo]}" --concurrency 1 --count 3 \
    --seconds 10 >"$RESULTS_DIR/probe-$path.txt" 2>&1 || ! grep -q 'errors=0 ' "$RESULTS_DIR/probe-$path.txt"; then
    die "no echo through the $path path: $(cat "$RESULTS_DIR/probe-$path.txt")"
  fi
done

# --- measurements ---------------------------------------------------------------------------------------
adopt_children

us_to_ms() { awk -v us="$1" 'BEGIN { if (us == "") print "error"; else printf "%.2f", us / 1000 }'; }
run_iperf() {
  local streams=$1 reverse=$2 path test file
  test="iperf3 -P $streams${reverse:+ -R}"
  for path in $PATHS; do
    file="$RESULTS_DIR/iperf3-$path-P$streams${reverse:+-R}.json"
    note "$test -> $path"
    measure "$test" "$path" timeout $((DURATION + 30)) \
      iperf3 -c 127.0.0.1 -p "${PORT[$path:iperf]}" -t "$DURATION" -P "$streams" ${reverse:+"$reverse"} -J >"$file" 2>&1 || true
    RESULT[$test|$path]=$(iperf_gbits "$file")
    sleep 1
  done
}


run_connrate() {
  local path file
  for path in $PATHS; do
    file="$RESULTS_DIR/connrate-$path.txt"
    note "connrate c=$CONCURRENCY -> $path"
    measure connrate "$path" timeout $((DURATION + 30)) \
      "$CONNRATE_BIN" client --host 127.0.0.1 --port "${PORT[$path:echo]}" --concurrency "$CONCURRENCY" \
      --seconds "$DURATION" --threads "$CLIENT_THREADS" >"$file" 2>&1 || true
    RESULT[connrate|$path]=$(connrate_field "$file" conn_per_sec error)
    RESULT[connrate-p50|$path]=$(us_to_ms "$(connrate_field "$file" p50_us)")
    RESULT[connrate-p99|$path]=$(us_to_ms "$(connrate_field "$file" p99_us)")
    if grep -q '^connections=' "$file"; then
      RESULT[connrate-errors|$path]=$(($(connrate_field "$file" errors 0) + $(connrate_field "$file" timeouts 0)))
    else
      RESULT[connrate-errors|$path]=error
    fi
    sleep 2  # let the TIME_WAIT sockets of the previous path age a little
  done
}

# --- idle connections ---------------------------------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
fds_at_most() { [ "$(fd_count "$1")" -le "$2" ]; }
file_has() { grep -q -- "$2" "$1" 2>/dev/null; }
declare -A IDLE=()  # "path|field" and "pid|field" -> value

# run_idle PATH: opens IDLE_CONNECTIONS through the path's echo entry, reads the RSS of its processes.
run_idle() {
  local path=$1 pid out idle_pid established
  out="$RESULTS_DIR/idle-$path.txt"
  local -A fds_before=()
  local count=${IDLE_COUNT[$path]}
  note "idle: $count connections -> $path"
  for pid in ${PATH_PIDS[$path]}; do
    IDLE[$pid|before]=$(rss_kib "$pid")
    fds_before[$pid]=$(fd_count "$pid")
  done
  "$IDLE_BIN" --host 127.0.0.1 --port "${PORT[$path:echo]}" --count "$count" \
    --concurrency 256 --timeout 10 >"$out" 2>"$RESULTS_DIR/idle-$path.err" &
  idle_pid=$!
  pids+=("$idle_pid")
  if ! wait_for "$idle_pid" $((count / 50 + 60)) file_has "$out" '^established='; then
    note "idle: the tool did not finish opening connections through $path (see $RESULTS_DIR/idle-$path.err)"
    kill -TERM "$idle_pid" 2>/dev/null || true
    wait "$idle_pid" 2>/dev/null || true
    IDLE[$path|established]=error
    return 0
  fi
  established=$(connrate_field "$out" established 0)
  IDLE[$path|established]=$established
  IDLE[$path|errors]=$(connrate_field "$out" errors 0)
  IDLE[$path|open_seconds]=$(connrate_field "$out" seconds)
  for pid in ${PATH_PIDS[$path]}; do IDLE[$pid|after]=$(rss_kib "$pid"); done
  # Were the connections measured still usable end to end? One more echo over each.
  kill -USR1 "$idle_pid"
  if wait_for "$idle_pid" 60 file_has "$out" '^alive='; then
    IDLE[$path|alive]=$(connrate_field "$out" alive 0)
  else
    IDLE[$path|alive]=error
  fi
  kill -TERM "$idle_pid" 2>/dev/null || true
  wait "$idle_pid" 2>/dev/null || true
  # Let the proxies close their side before the next test; the RSS then shows what was given back.
  for pid in ${PATH_PIDS[$path]}; do
    wait_for "$pid" 60 fds_at_most "$pid" $((fds_before[$pid] + 16)) ||
      note "idle: ${LABEL[$pid]} still holds $(fd_count "$pid") descriptors (had ${fds_before[$pid]})"
    IDLE[$pid|closed]=$(rss_kib "$pid")
  done
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if has_path gatewayd; then echo "gatewayd: $("$GATEWAYD" --version 2>&1 | head -n 1) ($GATEWAYD)"; fi
  if has_path haproxy; then echo "haproxy: $(haproxy -v 2>&1 | head -n 1)"; fi
  if has_path stunnel; then echo "stunnel: $(stunnel -version 2>&1 | grep -m1 '^stunnel')"; fi
  echo "openssl: $(openssl version)"
  echo "nginx: $(nginx -v 2>&1)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "iperf3: $(iperf3 --version 2>&1 | head -n 1)"
  echo "settings: PATHS=\"$PATHS\" DURATION=$DURATION STREAMS=\"$STREAMS\" REVERSE=$REVERSE" \
    "WRK_THREADS=$WRK_THREADS WRK_CONNECTIONS=$WRK_CONNECTIONS CONCURRENCY=$CONCURRENCY CLIENT_THREADS=$CLIENT_THREADS" \
    "IDLE_PATHS=\"$IDLE_LIST\" IDLE_CONNECTIONS=$IDLE_CONNECTIONS GATEWAY_WORKERS=$GATEWAY_WORKERS" \
    "TUNNEL_CONNECTIONS=$TUNNEL_CONNECTIONS GATEWAY_MAX_STREAMS=$GATEWAY_MAX_STREAMS" \
    "GATEWAY_BUFFER_SIZE=${GATEWAY_BUFFER_SIZE:-default} HAPROXY_BUFSIZE=${HAPROXY_BUFSIZE:-default} PAIR_CIPHERSUITES=$PAIR_CIPHERSUITES"
  echo "nginx response body: $HTTP_BODY_BYTES bytes; open files limit: $(ulimit -Sn)"
} >"$RESULTS_DIR/environment.txt"
note "load before: $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS_DIR"

# The idle test runs first, on processes that have carried nothing but the probes, so that memory
# left cached by the load tests does not hide what an idle connection costs.
for path in $IDLE_LIST; do run_idle "$path"; done
if has_test iperf; then
  for streams in $STREAMS; do
    run_iperf "$streams" ""
    if [ "$REVERSE" = 1 ]; then run_iperf "$streams" -R; fi
  done
fi
if has_test wrk; then run_wrk :http; fi
if has_test connrate; then run_connrate; fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/environment.txt"
# HAProxy's own counters (TLS handshakes, session reuse), through its stats socket when python3 is there.
if has_path haproxy && command -v python3 >/dev/null; then
  for side in a b; do
    python3 - "$WORK/haproxy-$side.sock" >"$RESULTS_DIR/haproxy-$side-info.txt" 2>&1 <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show info\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.write(data.decode())
PY
  done
fi

# --- report -------------------------------------------------------------------------------------------------
row() {  # row TEST LABEL [GOAL HIGHER]
  local test=$1 label=$2 goal=${3:-} higher=${4:-1} line path vs_h
  line="| $label"
  for path in $PATHS; do line="$line | $(cell "$test" "$path")"; done
  if has_path gatewayd && has_path haproxy; then
    vs_h=$(ratio "$test" gatewayd haproxy "$goal" "$higher")
    case "$vs_h" in *"|"*) ;; *) vs_h="$vs_h | " ;; esac
    line="$line | $vs_h"
  fi
  if has_path gatewayd && has_path stunnel; then line="$line | $(ratio "$test" gatewayd stunnel "" 1)"; fi
  echo "$line |"
}
if has_test iperf || has_test wrk || has_test connrate; then
  header="| Test"
  rule="|---"
  for path in $PATHS; do
    header="$header | $path"
    rule="$rule|---:"
  done
  # The ratios, and the targets (which are set against the HAProxy pair), need gatewayd in the run.
  if has_path gatewayd && has_path haproxy; then
    header="$header | gatewayd / haproxy | target"
    rule="$rule|---:|---"
  fi
  if has_path gatewayd && has_path stunnel; then
    header="$header | gatewayd / stunnel"
    rule="$rule|---:"
  fi
  echo "$header |"
  echo "$rule|"
  if has_test iperf; then for streams in $STREAMS; do
    goal=""
    [ "$streams" = 1 ] && goal=1.2
    row "iperf3 -P $streams" "iperf3 -P $streams, Gbit/s" "$goal" 1
    if [ "$REVERSE" = 1 ]; then row "iperf3 -P $streams -R" "iperf3 -P $streams -R, Gbit/s"; fi
  done; fi
  if has_test wrk; then
    row wrk "HTTP requests/s (wrk -c$WRK_CONNECTIONS)"
    row wrk-p50 "HTTP p50, ms" "" 0
    row wrk-p99 "HTTP p99, ms" 1 0
    row wrk-errors "HTTP errors" "" 0
  fi
  if has_test connrate; then
    row connrate "new connections/s (c=$CONCURRENCY)" 10 1
    row connrate-p50 "connect+echo p50, ms" "" 0
    row connrate-p99 "connect+echo p99, ms" "" 0
    row connrate-errors "connection errors" "" 0
  fi
  echo
  echo "CPU of the path's proxy processes together (% of one core) and machine busy (% of all $(nproc) cores):"
  echo
  cpu_table_header "machine busy ($(paths_slashed))"
  for test in $(if has_test iperf; then for streams in $STREAMS; do
    echo "iperf3_-P_$streams"
    if [ "$REVERSE" = 1 ]; then echo "iperf3_-P_${streams}_-R"; fi
  done; fi; has_test wrk && echo wrk; has_test connrate && echo connrate); do
    test=${test//_/ }
    line="| $test"
    busy=""
    for path in $PATHS; do
      [ "$path" = direct ] || line="$line | ${CPU[$test|$path]:--}"
      busy="$busy${busy:+ / }${BUSY[$test|$path]:--}"
    done
    echo "$line | $busy |"
  done
fi >"$RESULTS_DIR/summary.md"

if [ -n "$IDLE_LIST" ]; then
  {
    echo
    echo "Memory per idle connection ($IDLE_CONNECTIONS requested; RSS in KiB from /proc/PID/status; per connection ="
    echo "(RSS with connections - RSS before) / established):"
    echo
    echo "| path | process | established | still alive | RSS before | RSS with connections | KiB per connection | RSS after close |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for path in $IDLE_LIST; do
      established=${IDLE[$path|established]:-error}
      total_before=0
      total_after=0
      for pid in ${PATH_PIDS[$path]}; do
        before=${IDLE[$pid|before]:-0}
        after=${IDLE[$pid|after]:-0}
        total_before=$((total_before + before))
        total_after=$((total_after + after))
        per=$(awk -v a="$after" -v b="$before" -v n="$established" \
          'BEGIN { if (n !~ /^[0-9]+$/ || n == 0 || a == 0) print "-"; else printf "%.1f", (a - b) / n }')
        echo "| $path | ${LABEL[$pid]} | $established | ${IDLE[$path|alive]:--} | $before | ${after/#0/-} | $per | ${IDLE[$pid|closed]:--} |"
      done
      per=$(awk -v a="$total_after" -v b="$total_before" -v n="$established" \
        'BEGIN { if (n !~ /^[0-9]+$/ || n == 0 || a == 0) print "-"; else printf "%.1f", (a - b) / n }')
      echo "| $path | **both** | $established | ${IDLE[$path|alive]:--} | $total_before | $total_after | **$per** | |"
    done
  } >>"$RESULTS_DIR/summary.md"
fi
if [ -f "$RESULTS_DIR/haproxy-b-info.txt" ]; then
  {
    echo
    # A full handshake is a "key" operation; a resumed session is not.
    echo "HAProxy B: $(awk -F': ' '/^CumSslConns:/ { n = $2 } /^MaxSslRate:/ { r = $2 }
      /^SslFrontendMaxKeyRate:/ { k = $2 }
      END { print n " TLS connections accepted; peak " r " per second, of which at most " k \
        " per second were full handshakes (the others resumed a session)" }' "$RESULTS_DIR/haproxy-b-info.txt")"
  } >>"$RESULTS_DIR/summary.md"
fi
print_summary
