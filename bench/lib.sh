# Shared by the benchmark scripts (bench/tcp.sh, bench/tunnel.sh, bench/http.sh, bench/ldap.sh): the
# settings they have in common, build, process clean-up, ports, polling, result parsing, the two tunnel
# paths (gatewayd edge + connector, the HAProxy TLS pair) and the summary. The sourcing script sets
# BENCH_NAME, its own settings and, where it has them, ALL_PATHS and ALL_TESTS before sourcing this.
# shellcheck shell=bash

die() {
  echo "$BENCH_NAME: $*" >&2
  exit 1
}
note() { echo "$BENCH_NAME: $*" >&2; }

# --- settings every script has --------------------------------------------------------------------------
BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-2}
DURATION=${DURATION:-10}
DURATION=${DURATION%s}  # "10s" is accepted
GATEWAY_WORKERS=${GATEWAY_WORKERS:-1}
TUNNEL_CONNECTIONS=${TUNNEL_CONNECTIONS:-2}
GATEWAY_BUFFER_SIZE=${GATEWAY_BUFFER_SIZE:-}
HAPROXY_BUFSIZE=${HAPROXY_BUFSIZE:-}
# The TLS 1.3 cipher suite of the TLS pairs: by default the one gatewayd's tunnel negotiates, so that
# every path does the same cryptographic work (left to themselves they would choose AES-256-GCM).
PAIR_CIPHERSUITES=${PAIR_CIPHERSUITES:-TLS_AES_128_GCM_SHA256}
RESULTS_DIR=${RESULTS_DIR:-bench/results/$(date +%Y%m%d-%H%M%S)}
WORK=""  # the scratch directory, made by make_dirs; empty until then, so an early exit removes nothing
if [ -n "${ALL_PATHS:-}" ]; then ONLY=${ONLY:-$ALL_PATHS}; fi
if [ -n "${ALL_TESTS:-}" ]; then TESTS=${TESTS:-$ALL_TESTS}; fi
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds"
[[ $PAIR_CIPHERSUITES =~ ^[A-Za-z0-9_]+(:[A-Za-z0-9_]+)*$ ]] ||
  die "PAIR_CIPHERSUITES must be TLS 1.3 cipher suite names separated by ':'"

# require_positive NAME...: each of these variables holds a whole number above zero.
require_positive() {
  local name
  for name in "$@"; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive number"
  done
}

# select_tests: TESTS names only tests of ALL_TESTS. has_test NAME: NAME is among them.
select_tests() {
  local test
  for test in $TESTS; do
    case " $ALL_TESTS " in *" $test "*) ;; *) die "unknown test '$test' in TESTS (known: $ALL_TESTS)" ;; esac
  done
}
has_test() { case " $TESTS " in *" $1 "*) return 0 ;; esac; return 1; }

# 0 would mean one thread per core to gatewayd but is not a thread count to HAProxy or nginx.
require_positive GATEWAY_WORKERS TUNNEL_CONNECTIONS

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
  rm -rf "${WORK:-}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# all_listening PORT...: every port has a listening socket.
all_listening() {
  local port
  for port in "$@"; do port_listening "$port" || return 1; done
}
# log_count_at_least FILE PATTERN N: FILE has at least N lines matching PATTERN.
log_count_at_least() {
  local count
  count=$(grep -c -- "$2" "$1" 2>/dev/null || true)
  [ "${count:-0}" -ge "$3" ]
}
# start LOG COMMAND...: runs COMMAND in the background, output to LOG; its pid is in $started.
start() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  started=$!
  pids+=("$started")
}

# adopt_children: adds the children of our processes that are not ours yet (nginx's workers, forked by
# the master after start) to $pids, so that their CPU counts as the benchmark's, not as other processes'.
adopt_children() {
  local child
  while read -r child; do pids+=("$child"); done < <(cat /proc/[0-9]*/stat 2>/dev/null | awk -v own=" ${pids[*]} " '
    { pid = $1; sub(/^.*\) /, ""); if (index(own, " " $2 " ") && !index(own, " " pid " ")) print pid }')
}

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

# --- certificates -------------------------------------------------------------------------------------
# make_pair_pki DIR: what the TLS pairs (stunnel, HAProxy) use, from openssl: an EC P-256 CA (ca.pem), a
# server certificate for relay.test / 127.0.0.1 and a client certificate (server.pem, client.pem, their
# keys, and *-combined.pem with certificate and key in one file for HAProxy).
make_pair_pki() {
  mkdir -p "$1"
  (
    cd "$1"
    newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    newkey ca.key
    openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    for who in server client; do
      newkey "$who.key"
      openssl req -new -key "$who.key" -subj "/CN=relay-$who" -out "$who.csr" 2>/dev/null
      if [ "$who" = server ]; then
        printf 'subjectAltName=DNS:relay.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$who.ext"
      else
        printf 'subjectAltName=DNS:relay-client.test\nextendedKeyUsage=clientAuth\n' >"$who.ext"
      fi
      printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >>"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 2 -extfile "$who.ext" -out "$who.pem" 2>/dev/null
      cat "$who.pem" "$who.key" >"$who-combined.pem"  # HAProxy wants certificate and key in one file
    done
    chmod 600 ./*.key ./*-combined.pem
  ) || die "openssl could not make the certificates"
  openssl verify -CAfile "$WORK/pki/ca.pem" "$WORK/pki/server.pem" "$WORK/pki/client.pem" >/dev/null ||
    die "openssl made certificates that do not verify"
}

# make_gatewayd_certs GATEWAYD DIR: the tunnel's CA, edge certificate (edge.test, 127.0.0.1) and connector
# certificate (tenant bench, location lab), from `gatewayd certs`.
make_gatewayd_certs() {
  mkdir -p "$2"
  {
    "$1" certs ca --out "$2" &&
      "$1" certs edge --ca "$2" --out "$2" --name edge.test --ip 127.0.0.1 &&
      "$1" certs connector --ca "$2" --out "$2" --tenant bench --location lab
  } >"$RESULTS_DIR/gatewayd-certs.log" 2>&1 ||
    die "gatewayd certs failed: $(head -n 2 "$RESULTS_DIR/gatewayd-certs.log")"
}

# wrk_field FILE rps|p50|p99|errors: from wrk --latency output; latencies in ms.
wrk_field() {
  awk -v want="$2" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000
      if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000
      if (v ~ /s$/) return v * 1000
      return v + 0 }
    /Latency Distribution/ { dist = 1 }
    dist && $1 == "50%" { p50 = ms($2) }
    dist && $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    END {
      if (rps == "") { print "error"; exit }
      if (want == "rps") printf "%.0f\n", rps
      else if (want == "p50") printf "%.2f\n", p50
      else if (want == "p99") printf "%.2f\n", p99
      else print errors + 0 }' "$1"
}

# --- measurements ---------------------------------------------------------------------------------------
# The sourcing script keeps PATH_PIDS (path -> its proxies' pids) and LABEL (pid -> name) and declares
# the result arrays CPU and BUSY and the variables OTHER_MAX and DISTURBED that measure() fills.
CLK_TCK=$(getconf CLK_TCK)
# CPU time (ticks) used so far by processes, all threads; 0 for none.
process_ticks() {
  local pid total=0 ticks
  for pid in "$@"; do
    ticks=$(awk '{ sub(/^[^)]*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ticks))
  done
  echo "$total"
}
# CPU ticks of every user-space process other than the benchmark's own servers and proxies, "PID TICKS"
# per line, into FILE. Clients run by this script are not in it: they start after the first snapshot and
# end before the second.
other_process_ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v own=" ${pids[*]} " '{
      pid = $1; comm = $2; sub(/^.*\) /, "")  # fields now start at the state (field 3)
      if (int($7 / 2097152) % 2 == 1) next  # PF_KTHREAD: kernel threads carry the loopback work
      if (index(own, " " pid " ")) next
      print pid, $12 + $13, comm }' >"$1"
}
# measure TEST PATH COMMAND...: runs the command, recording the path's proxy CPU and the machine's.
# The command runs in the background so that Ctrl-C or SIGTERM stops the run at once (cleanup stops it).
measure() {
  local test=$1 path=$2
  shift 2
  local proxies=${PATH_PIDS[$path]:-} t0 t1 p0 p1 m0 m1 other client kept pid each status=0
  local -A ticks_before=()
  for pid in $proxies; do ticks_before[$pid]=$(process_ticks "$pid"); done
  # shellcheck disable=SC2086  # pid lists
  p0=$(process_ticks $proxies)
  other_process_ticks "$WORK/other.0"
  m0=$(machine_ticks)
  t0=$(date +%s.%N)
  "$@" &
  client=$!
  pids+=("$client")
  wait "$client" || status=$?
  t1=$(date +%s.%N)
  kept=()
  for pid in "${pids[@]}"; do [ "$pid" = "$client" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
  m1=$(machine_ticks)
  other_process_ticks "$WORK/other.1"
  # shellcheck disable=SC2086
  p1=$(process_ticks $proxies)
  # shellcheck disable=SC2004  # CPU and BUSY are the sourcing script's associative arrays
  CPU[$test|$path]=$(awk -v a="$p0" -v b="$p1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" -v pids="$proxies" \
    'BEGIN { if (pids == "") print "-"; else printf "%.0f%%", 100 * (b - a) / hz / (t1 - t0) }')
  # shellcheck disable=SC2004
  BUSY[$test|$path]=$(echo "$m0 $m1" | awk '{ printf "%.0f%%", 100 * ($3 - $1) / ($4 - $2) }')
  # "PERCENT TOP": the share of the machine used by other processes, and the busiest of them.
  other=$(awk -v total="$(echo "$m0 $m1" | awk '{ print $4 - $2 }')" \
    'FNR == NR { before[$1] = $2; next }
     { used = $2 - before[$1]; sum += used; if (used > top) { top = used; name = $3 } }
     END { printf "%.0f %s\n", (total > 0 ? 100 * sum / total : 0), (top > 0 ? name : "-") }' \
    "$WORK/other.0" "$WORK/other.1")
  [ "${other%% *}" -gt "$OTHER_MAX" ] && OTHER_MAX=${other%% *}
  if [ "${other%% *}" -gt 10 ]; then DISTURBED="$DISTURBED${DISTURBED:+, }$test via $path (${other%% *}%)"; fi
  # Each proxy process on its own, e.g. the edge and the connector.
  each=""
  for pid in $proxies; do
    each="$each | ${LABEL[$pid]} $(awk -v a="${ticks_before[$pid]}" -v b="$(process_ticks "$pid")" -v t0="$t0" -v t1="$t1" \
      -v hz="$CLK_TCK" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (t1 - t0) }')"
  done
  echo "$test | $path | proxies ${CPU[$test|$path]}$each | machine busy ${BUSY[$test|$path]} |" \
    "other processes ${other%% *}% (busiest: ${other#* })" >>"$RESULTS_DIR/cpu.txt"
  return $status
}

# --- gatewayd -------------------------------------------------------------------------------------------
# common_yaml NAME ROLE: the node, log, audit and limits sections every benchmark gatewayd shares
# (GATEWAY_WORKERS, MAX_CONNECTIONS and GATEWAY_BUFFER_SIZE come from the sourcing script).
common_yaml() {
  cat <<EOF
node:
  name: $1
  role: $2
  workers: $GATEWAY_WORKERS
  drain_timeout: 1s
log:
  level: info
  format: text
audit:
  level: off
limits:
  connect_timeout: 5s
  idle_timeout: 5m
  max_connections: $MAX_CONNECTIONS
${GATEWAY_BUFFER_SIZE:+  buffer_size: $GATEWAY_BUFFER_SIZE
}
EOF
}

# check_gatewayd NAME: `gatewayd check` of $WORK/NAME.yaml, which is kept with the results. GATEWAYD is the
# binary; GATEWAYD_CHECK_HINT, when set, goes into the message of a failure.
check_gatewayd() {
  cp "$WORK/$1.yaml" "$RESULTS_DIR/"
  "$GATEWAYD" check --config "$WORK/$1.yaml" >"$RESULTS_DIR/gatewayd-$1-check.log" 2>&1 ||
    die "gatewayd check of $1.yaml failed${GATEWAYD_CHECK_HINT:+ ($GATEWAYD_CHECK_HINT)}:" \
      "$(cat "$RESULTS_DIR/gatewayd-$1-check.log")"
}

# gatewayd_destination NAME ROUTE_TYPE ADDRESS LISTEN_PORT [SETTINGS]: an edge destination (a YAML list
# item) reached through the connector of tenant bench, location lab (make_gatewayd_certs' connector), with
# its entry point on 127.0.0.1:LISTEN_PORT. SETTINGS is a YAML flow mapping, e.g. "{bind_dn: x}".
gatewayd_destination() {
  cat <<YAML
  - name: $1
    route_type: $2
    address: $3
    proxy_type: on_premise
    tenant: bench
    location_id: lab
    entry_point:
      listen: 127.0.0.1:$4
YAML
  if [ -n "${5:-}" ]; then echo "    settings: $5"; fi
}

# gatewayd_system VIRTUAL_HOST VIRTUAL_PORT INTERNAL_PORT ROUTE_TYPE [SETTINGS]: a connector system (a
# YAML list item) that maps VIRTUAL_HOST:VIRTUAL_PORT to 127.0.0.1:INTERNAL_PORT; SETTINGS as above.
gatewayd_system() {
  cat <<YAML
  - virtual_host: $1
    virtual_port: $2
    internal_host: 127.0.0.1
    internal_port: $3
    route_type: $4
    enabled: true
YAML
  if [ -n "${5:-}" ]; then echo "    settings: $5"; fi
}

# start_gatewayd_pair PATH DESTINATIONS SYSTEMS ENTRY_PORT...: the tunnel path, two processes. Writes
# $WORK/edge.yaml (common_yaml, a tunnel listener on a free port with make_gatewayd_certs' certificates in
# $WORK/certs, then the DESTINATIONS list items) and $WORK/connector.yaml (common_yaml, TUNNEL_CONNECTIONS
# connections to that edge, then the SYSTEMS list items); with GATEWAY_MAX_STREAMS set, both sides get it
# as max_concurrent_streams. Checks both, starts the edge and waits until the tunnel port and every
# ENTRY_PORT listen, starts the connector and waits until both sides count TUNNEL_CONNECTIONS tunnel
# connections. Sets TUNNEL_PORT, EDGE_PID, CONNECTOR_PID, PATH_PIDS[PATH] and their LABELs.
# tunnel_side_yaml SIDE: the certificate keys of the edge's tunnel section or the connector section
# (SIDE edge or connector), and max_concurrent_streams when GATEWAY_MAX_STREAMS is set.
tunnel_side_yaml() {
  printf '  ca_file: %s\n  cert_file: %s\n  key_file: %s' "$WORK/certs/ca.pem" "$WORK/certs/$1.pem" \
    "$WORK/certs/$1.key"
  if [ -n "${GATEWAY_MAX_STREAMS:-}" ]; then printf '\n  max_concurrent_streams: %s' "$GATEWAY_MAX_STREAMS"; fi
}

start_gatewayd_pair() {
  local path=$1 destinations=$2 systems=$3
  shift 3
  free_port TUNNEL_PORT
  {
    common_yaml bench-edge edge
    cat <<YAML
tunnel:
  listen: 127.0.0.1:$TUNNEL_PORT
$(tunnel_side_yaml edge)
destinations:
$destinations
YAML
  } >"$WORK/edge.yaml"
  {
    common_yaml bench-connector connector
    cat <<YAML
connector:
  edges:
    - address: 127.0.0.1:$TUNNEL_PORT
      server_name: edge.test
  connections_per_edge: $TUNNEL_CONNECTIONS
$(tunnel_side_yaml connector)
systems:
$systems
YAML
  } >"$WORK/connector.yaml"
  check_gatewayd edge
  check_gatewayd connector
  start "$RESULTS_DIR/gatewayd-edge.log" "$GATEWAYD" run --config "$WORK/edge.yaml"
  EDGE_PID=$started
  wait_for "$EDGE_PID" 20 all_listening "$TUNNEL_PORT" "$@" ||
    die "gatewayd edge did not start (see $RESULTS_DIR/gatewayd-edge.log)"
  start "$RESULTS_DIR/gatewayd-connector.log" "$GATEWAYD" run --config "$WORK/connector.yaml"
  CONNECTOR_PID=$started
  wait_for "$CONNECTOR_PID" 30 log_count_at_least "$RESULTS_DIR/gatewayd-connector.log" \
    'event=tunnel_connected' "$TUNNEL_CONNECTIONS" ||
    die "the connector did not connect $TUNNEL_CONNECTIONS tunnel connection(s) (see $RESULTS_DIR/gatewayd-connector.log)"
  wait_for "$EDGE_PID" 10 log_count_at_least "$RESULTS_DIR/gatewayd-edge.log" \
    'event=connector_connected' "$TUNNEL_CONNECTIONS" ||
    die "the edge did not see $TUNNEL_CONNECTIONS connector connection(s) (see $RESULTS_DIR/gatewayd-edge.log)"
  # shellcheck disable=SC2004  # PATH_PIDS and LABEL are the sourcing script's associative arrays
  PATH_PIDS[$path]="$EDGE_PID $CONNECTOR_PID"
  # shellcheck disable=SC2004
  LABEL[$EDGE_PID]="gatewayd edge"
  # shellcheck disable=SC2004
  LABEL[$CONNECTOR_PID]="gatewayd connector"
}

# --- HAProxy --------------------------------------------------------------------------------------------
# haproxy_global MODE THREADS [NAME]: the global and defaults sections of a configuration: maxconn from
# MAX_CONNECTIONS (lowered so that 2 x maxconn descriptors, which HAProxy insists on, fit the open files
# limit), tune.bufsize HAPROXY_BUFSIZE when set, and with NAME a stats socket $WORK/NAME.sock.
haproxy_global() {
  local maxconn=$MAX_CONNECTIONS
  if [ "$(ulimit -Sn)" != unlimited ] && [ $((2 * maxconn + 100)) -gt "$(ulimit -Sn)" ]; then
    maxconn=$((($(ulimit -Sn) - 100) / 2))
  fi
  cat <<CFG
global
  nbthread $2
  maxconn $maxconn
${3:+  stats socket $WORK/$3.sock mode 600 level user
}${HAPROXY_BUFSIZE:+  tune.bufsize $HAPROXY_BUFSIZE
}
defaults
  mode $1
  maxconn $maxconn
  timeout connect 5s
  timeout client 5m
  timeout server 5m
CFG
}

# start_haproxy NAME: checks and starts $WORK/NAME.cfg (kept with the results); its pid is in $started.
start_haproxy() {
  cp "$WORK/$1.cfg" "$RESULTS_DIR/"
  haproxy -c -f "$WORK/$1.cfg" >"$RESULTS_DIR/$1-check.log" 2>&1 ||
    die "haproxy rejected $1.cfg: $(cat "$RESULTS_DIR/$1-check.log")"
  start "$RESULTS_DIR/$1.log" haproxy -db -f "$WORK/$1.cfg"
}

# start_haproxy_pair PATH THREADS SERVICE:PORT:TLS_PORT:BACKEND_PORT...: the TLS pair that stands in for a
# tunnel. HAProxy A (mode tcp) takes plain connections on 127.0.0.1:PORT and relays them over TLS 1.3 to
# HAProxy B on TLS_PORT, which relays them to BACKEND_PORT; each verifies the other's certificate (mutual
# TLS, make_pair_pki's certificates in $WORK/pki). One listen section per SERVICE on each side, THREADS
# threads each, stats sockets $WORK/haproxy-a.sock and $WORK/haproxy-b.sock. Sets HAPROXY_A_PID,
# HAPROXY_B_PID, PATH_PIDS[PATH] and their LABELs.
start_haproxy_pair() {
  local path=$1 threads=$2 spec service port tls_port backend_port
  shift 2
  local ports=() tls_ports=()
  {
    haproxy_global tcp "$threads" haproxy-a
    for spec in "$@"; do
      IFS=: read -r service port tls_port backend_port <<<"$spec"
      ports+=("$port")
      cat <<CFG

listen $service
  bind 127.0.0.1:$port
  server relay 127.0.0.1:$tls_port ssl verify required ca-file $WORK/pki/ca.pem crt $WORK/pki/client-combined.pem sni str(relay.test) verifyhost relay.test ssl-min-ver TLSv1.3 ciphersuites $PAIR_CIPHERSUITES
CFG
    done
  } >"$WORK/haproxy-a.cfg"
  {
    haproxy_global tcp "$threads" haproxy-b
    for spec in "$@"; do
      IFS=: read -r service port tls_port backend_port <<<"$spec"
      tls_ports+=("$tls_port")
      cat <<CFG

listen $service
  bind 127.0.0.1:$tls_port ssl crt $WORK/pki/server-combined.pem ca-file $WORK/pki/ca.pem verify required ssl-min-ver TLSv1.3 ciphersuites $PAIR_CIPHERSUITES
  server backend 127.0.0.1:$backend_port
CFG
    done
  } >"$WORK/haproxy-b.cfg"
  start_haproxy haproxy-b
  HAPROXY_B_PID=$started
  wait_for "$HAPROXY_B_PID" 20 all_listening "${tls_ports[@]}" ||
    die "haproxy B did not start (see $RESULTS_DIR/haproxy-b.log)"
  start_haproxy haproxy-a
  HAPROXY_A_PID=$started
  wait_for "$HAPROXY_A_PID" 20 all_listening "${ports[@]}" ||
    die "haproxy A did not start (see $RESULTS_DIR/haproxy-a.log)"
  # shellcheck disable=SC2004  # PATH_PIDS and LABEL are the sourcing script's associative arrays
  PATH_PIDS[$path]="$HAPROXY_A_PID $HAPROXY_B_PID"
  # shellcheck disable=SC2004
  LABEL[$HAPROXY_A_PID]="haproxy A (plain in, TLS out)"
  # shellcheck disable=SC2004
  LABEL[$HAPROXY_B_PID]="haproxy B (TLS in, plain out)"
}

# select_paths: PATHS = the paths of ONLY, in ALL_PATHS' order whatever order ONLY lists them in; an
# unknown name is an error. has_path PATH then says whether PATH is measured.
select_paths() {
  local path
  PATHS=""
  for path in $ONLY; do
    case " $ALL_PATHS " in *" $path "*) ;; *) die "unknown path '$path' in ONLY (known: $ALL_PATHS)" ;; esac
  done
  for path in $ALL_PATHS; do
    case " $ONLY " in *" $path "*) PATHS="$PATHS $path" ;; esac
  done
  PATHS=${PATHS# }
}
has_path() { case " $PATHS " in *" $1 "*) return 0 ;; esac; return 1; }

# --- measurements -------------------------------------------------------------------------------------------
# What measure() and the run_* functions fill, and the summary tables read.
declare -A RESULT=()  # "test|path" -> value
declare -A CPU=()     # "test|path" -> proxy processes' CPU, % of one core
declare -A BUSY=()    # "test|path" -> machine busy, % of all cores
OTHER_MAX=0           # highest share of the machine used by anything else during a test, %
DISTURBED=""          # tests during which other processes used more than 10% of the machine

# run_wrk KEY: wrk -tWRK_THREADS -cWRK_CONNECTIONS for DURATION seconds against every path's
# http://127.0.0.1:PORT[PATHKEY]/ (KEY is appended to the path's name, e.g. ":http"): requests per
# second, p50, p99 and errors into RESULT[wrk|PATH], RESULT[wrk-p50|PATH], ...
run_wrk() {
  local path file
  for path in $PATHS; do
    file="$RESULTS_DIR/wrk-$path.txt"
    note "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -> $path"
    measure wrk "$path" timeout $((DURATION + 30)) \
      wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:${PORT[$path$1]}/" \
      >"$file" 2>&1 || true
    RESULT[wrk|$path]=$(wrk_field "$file" rps)
    RESULT[wrk-p50|$path]=$(wrk_field "$file" p50)
    RESULT[wrk-p99|$path]=$(wrk_field "$file" p99)
    RESULT[wrk-errors|$path]=$(wrk_field "$file" errors)
    sleep 1
  done
}

# --- report -----------------------------------------------------------------------------------------------
# The summary tables of the scripts read RESULT["TEST|PATH"] (a figure, or nothing), and for
# comparison_row PATHS, COMPARISONS ("A B" pairs of paths) and GOAL["TEST|A B"] (a target for A/B).

# cell TEST PATH: the figure, or "-".
cell() { echo "${RESULT[$1|$2]:--}"; }

# ratio TEST A B GOAL HIGHER: A/B and whether it meets GOAL (A/B >= GOAL when HIGHER is 1, <= otherwise).
ratio() {
  awk -v a="$(cell "$1" "$2")" -v b="$(cell "$1" "$3")" -v goal="$4" -v higher="$5" 'BEGIN {
    if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) { print "-"; exit }
    r = a / b
    verdict = ""
    if (goal != "") {
      ok = higher ? r >= goal : r <= goal
      verdict = sprintf(" | %s (%s %s)", ok ? "meets" : "misses", higher ? ">=" : "<=", goal)
    }
    printf "%.2f%s\n", r, verdict }'
}

# comparison_header: the header and rule of the table comparison_row fills: Test, every path, then
# "A / B" and "target" for every comparison.
comparison_header() {
  local header="| Test" rule="|---" path pair
  for path in $PATHS; do
    header="$header | $path"
    rule="$rule|---:"
  done
  for pair in ${COMPARISONS[@]+"${COMPARISONS[@]}"}; do
    header="$header | ${pair% *} / ${pair#* } | target"
    rule="$rule|---:|---"
  done
  echo "$header |"
  echo "$rule|"
}

# paths_slashed: "direct / gatewayd / haproxy", the paths for a column that lists one figure of each.
paths_slashed() { echo "${PATHS// / \/ }"; }

# cpu_table_header COLUMN...: the header and rule of a CPU table: Test, "PATH CPU" for every path but
# direct, then the given columns.
cpu_table_header() {
  local header="| Test" rule="|---" path column
  for path in $PATHS; do
    [ "$path" = direct ] && continue
    header="$header | $path CPU"
    rule="$rule|---:"
  done
  for column in "$@"; do
    header="$header | $column"
    rule="$rule|---"
  done
  echo "$header |"
  echo "$rule|"
}

# comparison_row TEST LABEL [HIGHER]: one Markdown row: the figure of every path, then for every
# comparison A/B and its verdict against GOAL; without HIGHER the row has no ratios.
comparison_row() {
  local test=$1 label=$2 higher=${3:-} line path pair r
  line="| $label"
  for path in $PATHS; do line="$line | $(cell "$test" "$path")"; done
  for pair in ${COMPARISONS[@]+"${COMPARISONS[@]}"}; do
    r=" | "
    if [ -n "$higher" ]; then
      r=$(ratio "$test" "${pair% *}" "${pair#* }" "${GOAL[$test|$pair]:-}" "$higher")
      case "$r" in *"|"*) ;; *) r="$r | " ;; esac
    fi
    line="$line | $r"
  done
  echo "$line |"
}

# print_summary: shows $RESULTS_DIR/summary.md, then how much other processes disturbed the tests.
print_summary() {
  cat "$RESULTS_DIR/summary.md"
  echo
  echo "Highest share of the machine used outside the benchmark's processes during a test: ${OTHER_MAX}%"
  echo "(see cpu.txt). Raw outputs: $RESULTS_DIR"
  if [ -n "$DISTURBED" ]; then
    echo "Other processes used more than 10% of the machine during: $DISTURBED. Those figures are not reliable."
  fi
}
