#!/usr/bin/env bash
# HTTP route benchmark. One run measures, on this machine and on 127.0.0.1 only, HTTP/1.1 keep-alive
# requests for a small static file served by nginx, over six paths to the same nginx:
#   direct           wrk -> nginx;
#   gatewayd-entry   wrk -> gatewayd (role edge, one process): entry point of a destination with
#                    route_type http and an Internet target (proxy_type internet) -> nginx;
#   gatewayd-tunnel  wrk -> gatewayd edge: entry point of an on_premise http destination -> mutual-TLS
#                    HTTP/2 tunnel -> gatewayd connector (a second process; its http system admits every
#                    path) -> nginx;
#   nginx-proxy      wrk -> a second nginx as reverse proxy (upstream keep-alive) -> nginx;
#   haproxy-http     wrk -> HAProxy (mode http, http-reuse always) -> nginx;
#   haproxy-pair     wrk -> HAProxy A (mode tcp, plain in, TLS 1.3 out) -> HAProxy B (TLS in) -> nginx:
#                    the TLS pair of bench/tunnel.sh (mutual TLS), the reference for the tunnel path.
# gatewayd, both HAProxy paths and the nginx proxy get the same number of threads (GATEWAY_WORKERS).
# Test, for every path: wrk -t1 -c50 --latency for DURATION seconds: requests per second, p50 and p99
# latency, errors, and the CPU of the path's proxy processes.
# Targets, shown as verdicts in the summary: gatewayd-entry at least 0.9 x haproxy-http's requests/s and
# gatewayd-tunnel at least haproxy-pair's; the p99 of gatewayd-entry no higher than haproxy-http's and
# nginx-proxy's, and that of gatewayd-tunnel no higher than haproxy-pair's.
# Prints Markdown tables; raw outputs go to bench/results/<time>/.
#
# Usage: bench/http.sh            (from the repository root or anywhere else)
# Environment:
#   BUILD_DIR       build tree holding bin/gatewayd and the http plugin (default build/release, built
#                   with the release preset; any other tree must already be configured and is built with
#                   cmake --build)
#   SKIP_BUILD=1    use the binaries as they are
#   JOBS            build parallelism (default 2)
#   ONLY            subset of "direct gatewayd-entry gatewayd-tunnel nginx-proxy haproxy-http haproxy-pair"
#                   (default all six)
#   TESTS           subset of "wrk" (default wrk, the one test)
#   DURATION        seconds per test (default 10; "10s" is accepted)
#   WRK_THREADS     wrk threads (default 1)
#   WRK_CONNECTIONS wrk connections (default 50)
#   GATEWAY_WORKERS node.workers of every gatewayd process, nbthread of both HAProxy paths and
#                   worker_processes of the nginx proxy (default 1)
#   TUNNEL_CONNECTIONS   connector.connections_per_edge (default 2, the gateway's default)
#   GATEWAY_BUFFER_SIZE  limits.buffer_size of every gatewayd process (default: the gateway's default)
#   HAPROXY_BUFSIZE      HAProxy tune.bufsize in bytes (default: HAProxy's default, 16384)
#   PAIR_CIPHERSUITES    TLS 1.3 cipher suites of the TLS pairs (default TLS_AES_128_GCM_SHA256, the one
#                        gatewayd's tunnel negotiates)
#   RESULTS_DIR     where raw outputs go (default bench/results/<date-time>)
set -euo pipefail

cd "$(dirname "$0")/.."

ALL_PATHS="direct gatewayd-entry gatewayd-tunnel nginx-proxy haproxy-http haproxy-pair"
ALL_TESTS="wrk"
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-50}

BENCH_NAME=http.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root

require_positive WRK_THREADS WRK_CONNECTIONS
[ "$WRK_CONNECTIONS" -ge "$WRK_THREADS" ] || die "WRK_CONNECTIONS must be at least WRK_THREADS"
select_paths
select_tests
has_gatewayd() { has_path gatewayd-entry || has_path gatewayd-tunnel; }
has_haproxy() { has_path haproxy-http || has_path haproxy-pair; }

for tool in wrk nginx curl awk cmake timeout getconf; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if has_haproxy; then command -v haproxy >/dev/null || die "haproxy not found"; fi
if has_path haproxy-pair; then command -v openssl >/dev/null || die "openssl not found"; fi

# --- build --------------------------------------------------------------------------------------------
if has_gatewayd; then
  build_targets gatewayd gateway_plugin_http
  GATEWAYD=$BUILD_DIR/bin/gatewayd
  [ -x "$GATEWAYD" ] || die "$GATEWAYD not built"
fi

make_dirs gateway-http-bench

# children_of PID: the pids of PID's child processes, one a line.
children_of() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v parent="$1" '
    { pid = $1; sub(/^.*\) /, ""); if ($2 == parent) print pid }'
}
# has_children PID N: PID has at least N child processes (nginx's workers, forked after it listens).
has_children() { [ "$(children_of "$1" | wc -l)" -ge "$2" ]; }

declare -A PORT=()       # path -> port the client connects to
declare -A PATH_PIDS=()  # path -> pids of its proxy processes
declare -A LABEL=()      # pid -> name of the proxy process (cpu.txt)
free_port "PORT[direct]"
# Connections any one server or proxy is given room for: the client's, with a margin.
MAX_CONNECTIONS=$((WRK_CONNECTIONS + 1000 > 8000 ? WRK_CONNECTIONS + 1000 : 8000))
NGINX_CONNECTIONS=$((2 * WRK_CONNECTIONS + 100 > 4096 ? 2 * WRK_CONNECTIONS + 100 : 4096))

# --- certificates ---------------------------------------------------------------------------------------
# The HAProxy pair gets its own EC P-256 CA, a server certificate for relay.test / 127.0.0.1 and a client
# certificate, from openssl; the tunnel gets its own from `gatewayd certs`.
if has_path haproxy-pair; then
  make_pair_pki "$WORK/pki"
fi
has_path gatewayd-tunnel && make_gatewayd_certs "$GATEWAYD" "$WORK/certs"

# --- backend ------------------------------------------------------------------------------------------
# nginx in the foreground as the current user, everything it writes in the work directory. A keep-alive
# connection is never closed by nginx, so that wrk measures requests rather than connection set-up.
# nginx_head DIR WORKERS: the part of an nginx configuration that the backend and the proxy share.
nginx_head() {
  echo "daemon off;"
  echo "master_process on;"
  echo "worker_processes $2;"
  echo "pid $1/nginx.pid;"
  echo "error_log $1/error.log warn;"
  if [ "$(id -u)" = 0 ]; then echo "user $(id -un) $(id -gn);"; fi
  cat <<EOF
events {
  worker_connections $NGINX_CONNECTIONS;
}
http {
  access_log off;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 5m;
  default_type text/html;
EOF
}
# start_nginx NAME: checks and starts the configuration $WORK/NAME/nginx.conf; the master's pid is in
# $started.
start_nginx() {
  local dir=$WORK/$1
  cp "$dir/nginx.conf" "$RESULTS_DIR/$1.conf"
  nginx -t -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$RESULTS_DIR/$1-check.log" 2>&1 ||
    die "$1 rejected its configuration: $(cat "$RESULTS_DIR/$1-check.log")"
  start "$RESULTS_DIR/$1.log" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
}

mkdir -p "$WORK/nginx/html"
awk 'BEGIN { printf "<!doctype html><title>bench</title><p>"; for (i = 0; i < 200; i++) printf "x"; print "</p>" }' \
  >"$WORK/nginx/html/index.html"
HTTP_BODY_BYTES=$(wc -c <"$WORK/nginx/html/index.html")
{
  nginx_head "$WORK/nginx" 1
  cat <<EOF
  server {
    listen 127.0.0.1:${PORT[direct]};
    root $WORK/nginx/html;
  }
}
EOF
} >"$WORK/nginx/nginx.conf"
start_nginx nginx
wait_for "$started" 10 port_listening "${PORT[direct]}" ||
  die "nginx did not start (see $RESULTS_DIR/nginx.log and $WORK/nginx/error.log)"

# --- gatewayd -----------------------------------------------------------------------------------------
# gatewayd-entry: one edge process, the destination's target is nginx itself.
if has_path gatewayd-entry; then
  free_port "PORT[gatewayd-entry]"
  {
    common_yaml bench-entry edge
    cat <<EOF
destinations:
  - name: http
    route_type: http
    address: http://127.0.0.1:${PORT[direct]}
    entry_point:
      listen: 127.0.0.1:${PORT[gatewayd-entry]}
EOF
  } >"$WORK/entry.yaml"
  check_gatewayd entry
  start "$RESULTS_DIR/gatewayd-entry.log" "$GATEWAYD" run --config "$WORK/entry.yaml"
  ENTRY_PID=$started
  wait_for "$ENTRY_PID" 20 port_listening "${PORT[gatewayd-entry]}" ||
    die "gatewayd (entry) did not start (see $RESULTS_DIR/gatewayd-entry.log)"
  PATH_PIDS[gatewayd-entry]=$ENTRY_PID
  LABEL[$ENTRY_PID]="gatewayd edge (entry point)"
fi

# gatewayd-tunnel: edge + connector; the connector dials the edge and maps http.bench:80 to nginx.
if has_path gatewayd-tunnel; then
  free_port "PORT[gatewayd-tunnel]"
  start_gatewayd_pair gatewayd-tunnel \
    "$(gatewayd_destination http http http://http.bench:80 "${PORT[gatewayd-tunnel]}")" \
    "$(gatewayd_system http.bench 80 "${PORT[direct]}" http "{resources: [{path: /, match: path_prefix}]}")" \
    "${PORT[gatewayd-tunnel]}"
fi

# --- nginx reverse proxy ------------------------------------------------------------------------------
# Keeps up to 64 idle connections to the backend per worker and never closes one for its request count,
# as nginx's backend never closes the client side.
if has_path nginx-proxy; then
  free_port "PORT[nginx-proxy]"
  mkdir -p "$WORK/nginx-proxy"
  {
    nginx_head "$WORK/nginx-proxy" "$GATEWAY_WORKERS"
    cat <<EOF
  upstream backend {
    server 127.0.0.1:${PORT[direct]};
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 5m;
  }
  server {
    listen 127.0.0.1:${PORT[nginx-proxy]};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  } >"$WORK/nginx-proxy/nginx.conf"
  start_nginx nginx-proxy
  NGINX_PROXY_PID=$started
  wait_for "$NGINX_PROXY_PID" 10 port_listening "${PORT[nginx-proxy]}" ||
    die "nginx (proxy) did not start (see $RESULTS_DIR/nginx-proxy.log and $WORK/nginx-proxy/error.log)"
  # The workers carry the requests; the master only forks them.
  wait_for "$NGINX_PROXY_PID" 10 has_children "$NGINX_PROXY_PID" "$GATEWAY_WORKERS" ||
    die "nginx (proxy) did not start its $GATEWAY_WORKERS worker(s) (see $WORK/nginx-proxy/error.log)"
  PATH_PIDS[nginx-proxy]="$NGINX_PROXY_PID"
  LABEL[$NGINX_PROXY_PID]="nginx proxy master"
  while read -r worker; do
    pids+=("$worker")
    PATH_PIDS[nginx-proxy]="${PATH_PIDS[nginx-proxy]} $worker"
    LABEL[$worker]="nginx proxy worker"
  done < <(children_of "$NGINX_PROXY_PID")
fi

# --- HAProxy ------------------------------------------------------------------------------------------
# haproxy_global, start_haproxy and start_haproxy_pair come from bench/lib.sh; both HAProxy paths get
# GATEWAY_WORKERS threads.

# haproxy-http: HTTP in and out, keep-alive on both sides; idle server connections are shared by all
# clients (http-reuse always).
if has_path haproxy-http; then
  free_port "PORT[haproxy-http]"
  {
    haproxy_global http "$GATEWAY_WORKERS"
    cat <<EOF

listen http
  bind 127.0.0.1:${PORT[haproxy-http]}
  http-reuse always
  server backend 127.0.0.1:${PORT[direct]}
EOF
  } >"$WORK/haproxy-http.cfg"
  start_haproxy haproxy-http
  HAPROXY_HTTP_PID=$started
  wait_for "$HAPROXY_HTTP_PID" 20 port_listening "${PORT[haproxy-http]}" ||
    die "haproxy (http) did not start (see $RESULTS_DIR/haproxy-http.log)"
  PATH_PIDS[haproxy-http]=$HAPROXY_HTTP_PID
  LABEL[$HAPROXY_HTTP_PID]="haproxy (mode http)"
fi

# haproxy-pair: the TLS pair of bench/tunnel.sh; A's servers and B's bind verify each other.
if has_path haproxy-pair; then
  free_port "PORT[haproxy-pair]"
  free_port PAIR_TLS_PORT
  start_haproxy_pair haproxy-pair "$GATEWAY_WORKERS" "http:${PORT[haproxy-pair]}:$PAIR_TLS_PORT:${PORT[direct]}"
fi

# Every path must serve the file end to end before anything is measured: a TLS, allowlist or proxy
# mistake shows here, not as a column of errors.
for path in $PATHS; do
  status=$(curl -sS --max-time 10 -o "$WORK/probe-$path.body" -w '%{http_code}' \
    "http://127.0.0.1:${PORT[$path]}/" 2>"$RESULTS_DIR/probe-$path.txt") || status="failed"
  echo "status=$status" >>"$RESULTS_DIR/probe-$path.txt"
  if [ "$status" != 200 ] || ! cmp -s "$WORK/probe-$path.body" "$WORK/nginx/html/index.html"; then
    die "the $path path did not deliver nginx's file (HTTP status $status):" \
      "$(grep -v '^status=' "$RESULTS_DIR/probe-$path.txt")" "$(head -c 300 "$WORK/probe-$path.body" 2>/dev/null)"
  fi
done

# --- measurements ---------------------------------------------------------------------------------------
adopt_children



{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if has_gatewayd; then echo "gatewayd: $("$GATEWAYD" --version 2>&1 | head -n 1) ($GATEWAYD)"; fi
  if has_haproxy; then echo "haproxy: $(haproxy -v 2>&1 | head -n 1)"; fi
  if has_path haproxy-pair; then echo "openssl: $(openssl version)"; fi
  echo "nginx: $(nginx -v 2>&1)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "settings: PATHS=\"$PATHS\" TESTS=\"$TESTS\" DURATION=$DURATION WRK_THREADS=$WRK_THREADS" \
    "WRK_CONNECTIONS=$WRK_CONNECTIONS GATEWAY_WORKERS=$GATEWAY_WORKERS TUNNEL_CONNECTIONS=$TUNNEL_CONNECTIONS" \
    "GATEWAY_BUFFER_SIZE=${GATEWAY_BUFFER_SIZE:-default} HAPROXY_BUFSIZE=${HAPROXY_BUFSIZE:-default} PAIR_CIPHERSUITES=$PAIR_CIPHERSUITES"
  echo "nginx response body: $HTTP_BODY_BYTES bytes; open files limit: $(ulimit -Sn)"
} >"$RESULTS_DIR/environment.txt"
note "load before: $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS_DIR"

if has_test wrk; then run_wrk ""; fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/environment.txt"

# --- report -------------------------------------------------------------------------------------------------
# Each gatewayd path against its peers: "A B" gives the columns "A / B" and "target".
COMPARISONS=()
for pair in "gatewayd-entry haproxy-http" "gatewayd-entry nginx-proxy" "gatewayd-tunnel haproxy-pair"; do
  if has_path "${pair% *}" && has_path "${pair#* }"; then COMPARISONS+=("$pair"); fi
done
declare -A GOAL=(  # "test|A B" -> the target for A/B
  ["wrk|gatewayd-entry haproxy-http"]=0.9
  ["wrk|gatewayd-tunnel haproxy-pair"]=1
  ["wrk-p99|gatewayd-entry haproxy-http"]=1
  ["wrk-p99|gatewayd-entry nginx-proxy"]=1
  ["wrk-p99|gatewayd-tunnel haproxy-pair"]=1
)
if has_test wrk; then
  comparison_header
  comparison_row wrk "HTTP requests/s (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS)" 1
  comparison_row wrk-p50 "HTTP p50, ms" 0
  comparison_row wrk-p99 "HTTP p99, ms" 0
  comparison_row wrk-errors "HTTP errors"
  echo
  echo "CPU of the path's proxy processes together (% of one core) and machine busy (% of all $(nproc) cores):"
  echo
  cpu_table_header "machine busy ($(paths_slashed))"
  line="| wrk"
  busy=""
  for path in $PATHS; do
    [ "$path" = direct ] || line="$line | ${CPU[wrk|$path]:--}"
    busy="$busy${busy:+ / }${BUSY[wrk|$path]:--}"
  done
  echo "$line | $busy |"
fi >"$RESULTS_DIR/summary.md"

print_summary
