#!/usr/bin/env bash
# LDAP route benchmark. One run measures, on this machine and on 127.0.0.1 only, LDAP searches per second
# and their latency at a fixed concurrency, over three paths to the same OpenLDAP slapd:
#   direct    load client -> slapd;
#   gatewayd  load client -> gatewayd edge: entry point of an on_premise ldap destination that binds as
#             the service account itself (bind injection: the client binds anonymously) -> mutual-TLS
#             HTTP/2 tunnel -> gatewayd connector (its ldap system admits read-only operations below
#             dc=example,dc=com) -> slapd: two processes, the connector dials the edge;
#   haproxy   load client -> HAProxy A (mode tcp, plain in, TLS 1.3 out) -> HAProxy B (TLS in) -> slapd:
#             the TLS pair of bench/tunnel.sh (mutual TLS), the reference for the tunnel.
# On direct and haproxy the client binds as the service account, so that slapd does the same work on every
# path. slapd (back_mdb, `threads SLAPD_THREADS`, logging off, uid indexed) holds PEOPLE inetOrgPerson
# entries; every search is the common directory lookup: one person by uid, a different one each time,
# (uid=user<n>) in a subtree search from dc=example,dc=com, returning ATTRS.
# Test, for every path: gateway_bench_ldap_load with CONNECTIONS connections (a thread and one bind each)
# for DURATION seconds: searches per second, p50 and p99 latency, errors, and the CPU of the path's proxy
# processes and of slapd.
# Target, shown as a verdict in the summary: gatewayd at least 0.8 x direct's searches per second.
# Prints Markdown tables; raw outputs go to bench/results/<time>/.
#
# Usage: bench/ldap.sh            (from the repository root or anywhere else)
# Environment:
#   BUILD_DIR       build tree holding bin/gatewayd, the ldap plugin and the load client (default
#                   build/release, built with the release preset; any other tree must already be
#                   configured and is built with cmake --build)
#   SKIP_BUILD=1    use the binaries as they are
#   JOBS            build parallelism (default 2)
#   LDAP_LOAD       the load client to use instead of BUILD_DIR/bin/gateway_bench_ldap_load (which is then
#                   not built)
#   ONLY            subset of "direct gatewayd haproxy" (default all three)
#   DURATION        seconds per path (default 10; "10s" is accepted)
#   CONNECTIONS     concurrent connections of the load client (default 16)
#   PEOPLE          person entries in the directory, and distinct uids searched (default 1000)
#   ATTRS           attributes each search asks for (default cn,mail,telephoneNumber)
#   CLIENT_BIND     what the client sends the gatewayd entry point: anonymous (a bind with no name) or
#                   none (no bind; the gateway binds before the first search) (default anonymous)
#   SLAPD_THREADS   slapd's worker threads (default 2)
#   GATEWAY_WORKERS node.workers of the edge and of the connector, and nbthread of both HAProxy processes
#                   (default 1)
#   TUNNEL_CONNECTIONS   connector.connections_per_edge (default 2, the gateway's default)
#   GATEWAY_BUFFER_SIZE  limits.buffer_size of edge and connector (default: the gateway's default)
#   HAPROXY_BUFSIZE      HAProxy tune.bufsize in bytes (default: HAProxy's default, 16384)
#   PAIR_CIPHERSUITES    TLS 1.3 cipher suites of the TLS pairs (default TLS_AES_128_GCM_SHA256, the one
#                        gatewayd's tunnel negotiates)
#   RESULTS_DIR     where raw outputs go (default bench/results/<date-time>)
set -euo pipefail

# LDAP_LOAD may be relative to where the script was started from.
if [ -n "${LDAP_LOAD:-}" ]; then LDAP_LOAD=$(cd "$(dirname "$LDAP_LOAD")" && pwd)/$(basename "$LDAP_LOAD"); fi
cd "$(dirname "$0")/.."

ALL_PATHS="direct gatewayd haproxy"
CONNECTIONS=${CONNECTIONS:-16}
PEOPLE=${PEOPLE:-1000}
ATTRS=${ATTRS:-cn,mail,telephoneNumber}
CLIENT_BIND=${CLIENT_BIND:-anonymous}
SLAPD_THREADS=${SLAPD_THREADS:-2}

BENCH_NAME=ldap.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh  # the working directory is the repository root

require_positive CONNECTIONS PEOPLE SLAPD_THREADS
case "$CLIENT_BIND" in anonymous | none) ;; *) die "CLIENT_BIND must be anonymous or none" ;; esac
select_paths

PATH=$PATH:/usr/sbin  # slapd and slapadd, for users whose PATH lacks it
for tool in slapd slapadd ldapsearch ldapwhoami awk timeout getconf; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
if has_path haproxy; then
  command -v haproxy >/dev/null || die "haproxy not found"
  command -v openssl >/dev/null || die "openssl not found"
fi

# --- build --------------------------------------------------------------------------------------------
targets_to_build=()
[ -n "${LDAP_LOAD:-}" ] || targets_to_build+=(gateway_bench_ldap_load)
if has_path gatewayd; then targets_to_build+=(gatewayd gateway_plugin_ldap); fi
if [ ${#targets_to_build[@]} -gt 0 ]; then
  command -v cmake >/dev/null || die "cmake not found (scripts/install-deps.sh installs it)"
  build_targets "${targets_to_build[@]}"
fi
LDAP_LOAD=${LDAP_LOAD:-$BUILD_DIR/bin/gateway_bench_ldap_load}
[ -x "$LDAP_LOAD" ] || die "$LDAP_LOAD not built"
if has_path gatewayd; then
  GATEWAYD=$BUILD_DIR/bin/gatewayd
  [ -x "$GATEWAYD" ] || die "$GATEWAYD not built"
fi

make_dirs gateway-ldap-bench

declare -A PORT=()       # path -> port the client connects to
declare -A PATH_PIDS=()  # path -> pids of its proxy processes
declare -A LABEL=()      # pid -> name of the proxy process (cpu.txt)
free_port "PORT[direct]"
# Connections any one server or proxy is given room for: the client's, with a margin.
MAX_CONNECTIONS=$((CONNECTIONS + 1000 > 8000 ? CONNECTIONS + 1000 : 8000))

SUFFIX="dc=example,dc=com"
SERVICE_DN="cn=svc,$SUFFIX"
SERVICE_PASSWORD=svc-secret

# --- certificates ---------------------------------------------------------------------------------------
# The HAProxy pair gets its own EC P-256 CA, a server certificate for relay.test / 127.0.0.1 and a client
# certificate, from openssl; the tunnel gets its own from `gatewayd certs`.
if has_path haproxy; then make_pair_pki "$WORK/pki"; fi
if has_path gatewayd; then make_gatewayd_certs "$GATEWAYD" "$WORK/certs"; fi

# --- backend: slapd -------------------------------------------------------------------------------------
# The access rules of the end-to-end tests' directory: passwords only for binding (and for their own
# entry), ou=restricted for authenticated clients, everything else readable by anyone; the service
# account may write.
mkdir -p "$WORK/slapd/db"
cat >"$WORK/slapd/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile $WORK/slapd/slapd.pid
argsfile $WORK/slapd/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
loglevel 0
threads $SLAPD_THREADS
database mdb
maxsize 268435456
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw admin-secret
directory $WORK/slapd/db
index objectClass eq
index uid eq
access to attrs=userPassword
  by self write
  by dn.exact="$SERVICE_DN" =w
  by anonymous auth
  by * none
access to dn.subtree="ou=restricted,$SUFFIX"
  by dn.exact="$SERVICE_DN" write
  by users read
  by * none
access to *
  by dn.exact="$SERVICE_DN" write
  by * read
EOF
cp "$WORK/slapd/slapd.conf" "$RESULTS_DIR/"
awk -v people="$PEOPLE" -v suffix="$SUFFIX" -v password="$SERVICE_PASSWORD" 'BEGIN {
  printf "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n", suffix
  printf "dn: cn=svc,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc\n", suffix
  printf "userPassword: %s\n\n", password
  printf "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", suffix
  for (i = 0; i < people; i++) {
    printf "dn: uid=user%d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: user%d\ncn: User %d\n", i, suffix, i, i
    printf "sn: Surname%d\nmail: user%d@example.com\ntelephoneNumber: +1 555 %d\n", i, i, 1000 + i
    printf "userPassword: user%d-secret\n\n", i
  }
}' >"$WORK/slapd/seed.ldif"
# slapadd fills the database (and its indexes) offline, before slapd opens it.
slapadd -q -f "$WORK/slapd/slapd.conf" -l "$WORK/slapd/seed.ldif" >"$RESULTS_DIR/slapadd.log" 2>&1 ||
  die "slapadd failed: $(cat "$RESULTS_DIR/slapadd.log")"
start "$RESULTS_DIR/slapd.log" slapd -f "$WORK/slapd/slapd.conf" -h "ldap://127.0.0.1:${PORT[direct]}/" -d 0
SLAPD_PID=$started
wait_for "$SLAPD_PID" 20 port_listening "${PORT[direct]}" ||
  die "slapd did not start (see $RESULTS_DIR/slapd.log; slaptest -f $RESULTS_DIR/slapd.conf checks the configuration)"

# --- gatewayd: edge + connector -------------------------------------------------------------------------
if has_path gatewayd; then
  free_port "PORT[gatewayd]"
  GATEWAYD_CHECK_HINT="is the ldap plugin built? ONLY=\"direct haproxy\" runs without gatewayd"
  start_gatewayd_pair gatewayd \
    "$(gatewayd_destination directory ldap ldap://directory.internal:389 "${PORT[gatewayd]}" \
      "{bind_dn: \"$SERVICE_DN\", bind_password: $SERVICE_PASSWORD}")" \
    "$(gatewayd_system directory.internal 389 "${PORT[direct]}" ldap \
      "{operations: [read-only], base_dns: [\"$SUFFIX\"]}")" \
    "${PORT[gatewayd]}"
fi

# --- HAProxy pair -------------------------------------------------------------------------------------
if has_path haproxy; then
  free_port "PORT[haproxy]"
  free_port HAPROXY_TLS_PORT
  start_haproxy_pair haproxy "$GATEWAY_WORKERS" "ldap:${PORT[haproxy]}:$HAPROXY_TLS_PORT:${PORT[direct]}"
fi

# search_bind_args PATH, load_bind_args PATH: how the client binds on PATH, as ldapsearch and as the load
# client take it, one argument a line.
search_bind_args() {
  if [ "$1" = gatewayd ]; then return 0; fi
  printf '%s\n' -D "$SERVICE_DN" -w "$SERVICE_PASSWORD"
}
load_bind_args() {
  if [ "$1" = gatewayd ]; then
    printf '%s\n' --bind "$CLIENT_BIND"
  else
    printf '%s\n' --bind-dn "$SERVICE_DN" --password "$SERVICE_PASSWORD"
  fi
}

# Every path must find a person end to end before anything is measured: a TLS, policy or bind mistake
# shows here, not as a column of errors. Through the gateway, the anonymous client is bound as the
# service account.
for path in $PATHS; do
  probe=$RESULTS_DIR/probe-$path.txt
  mapfile -t bind < <(search_bind_args "$path")
  LDAPNOINIT=1 timeout 20 ldapsearch -x -LLL -o ldif_wrap=no -H "ldap://127.0.0.1:${PORT[$path]}" \
    ${bind[@]+"${bind[@]}"} -b "$SUFFIX" "(uid=user1)" dn >"$probe" 2>&1 || true
  grep -qx "dn: uid=user1,ou=people,$SUFFIX" "$probe" ||
    die "the $path path did not find uid=user1: $(cat "$probe")"
  if [ "$path" = gatewayd ]; then
    LDAPNOINIT=1 timeout 20 ldapwhoami -x -H "ldap://127.0.0.1:${PORT[$path]}" >>"$probe" 2>&1 || true
    grep -qx "dn:$SERVICE_DN" "$probe" ||
      note "ldapwhoami through gatewayd did not answer dn:$SERVICE_DN (see $probe)"
  fi
done

# --- measurements ---------------------------------------------------------------------------------------
declare -A SLAPD_CPU=()  # path -> slapd's CPU, % of one core

run_search() {
  local path file t0 t1 s0 s1 bind
  for path in $PATHS; do
    file="$RESULTS_DIR/search-$path.txt"
    note "$CONNECTIONS connections searching -> $path"
    mapfile -t bind < <(load_bind_args "$path")
    s0=$(process_ticks "$SLAPD_PID")
    t0=$(date +%s.%N)
    measure search "$path" timeout $((DURATION + 30)) \
      "$LDAP_LOAD" --url "ldap://127.0.0.1:${PORT[$path]}" --connections "$CONNECTIONS" --duration "$DURATION" \
      "${bind[@]}" --base "$SUFFIX" --scope sub --filter "(uid=user{n})" --keys "$PEOPLE" --attrs "$ATTRS" \
      >"$file" 2>&1 || true
    t1=$(date +%s.%N)
    s1=$(process_ticks "$SLAPD_PID")
    SLAPD_CPU[$path]=$(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
      'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / (t1 - t0) }')
    if grep -q '^searches=' "$file"; then
      RESULT[search|$path]=$(awk -v r="$(connrate_field "$file" rate)" 'BEGIN { printf "%.0f", r }')
      RESULT[p50|$path]=$(connrate_field "$file" p50_us error)
      RESULT[p99|$path]=$(connrate_field "$file" p99_us error)
      RESULT[errors|$path]=$(connrate_field "$file" errors error)
    else
      RESULT[search|$path]=error
    fi
    sleep 1
  done
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if has_path gatewayd; then echo "gatewayd: $("$GATEWAYD" --version 2>&1 | head -n 1) ($GATEWAYD)"; fi
  if has_path haproxy; then
    echo "haproxy: $(haproxy -v 2>&1 | head -n 1)"
    echo "openssl: $(openssl version)"
  fi
  echo "slapd: $(slapd -VV 2>&1 | head -n 1 | sed 's/^@(#) //')"
  echo "load client: $LDAP_LOAD"
  echo "settings: PATHS=\"$PATHS\" DURATION=$DURATION CONNECTIONS=$CONNECTIONS PEOPLE=$PEOPLE ATTRS=$ATTRS" \
    "CLIENT_BIND=$CLIENT_BIND SLAPD_THREADS=$SLAPD_THREADS GATEWAY_WORKERS=$GATEWAY_WORKERS" \
    "TUNNEL_CONNECTIONS=$TUNNEL_CONNECTIONS GATEWAY_BUFFER_SIZE=${GATEWAY_BUFFER_SIZE:-default}" \
    "HAPROXY_BUFSIZE=${HAPROXY_BUFSIZE:-default} PAIR_CIPHERSUITES=$PAIR_CIPHERSUITES"
} >"$RESULTS_DIR/environment.txt"
note "load before: $(cut -d' ' -f1-3 /proc/loadavg); raw results in $RESULTS_DIR"

run_search
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS_DIR/environment.txt"

# --- report -------------------------------------------------------------------------------------------------
# gatewayd against direct (with the target) and against the HAProxy pair.
COMPARISONS=()
for pair in "gatewayd direct" "gatewayd haproxy"; do
  if has_path "${pair% *}" && has_path "${pair#* }"; then COMPARISONS+=("$pair"); fi
done
declare -A GOAL=(["search|gatewayd direct"]=0.8)  # "test|A B" -> the target for A/B
{
  comparison_header
  comparison_row search "LDAP searches/s (c=$CONNECTIONS)" 1
  comparison_row p50 "search p50, µs" 0
  comparison_row p99 "search p99, µs" 0
  comparison_row errors "search errors"
  echo
  echo "CPU of the path's proxy processes together and of slapd (% of one core), and machine busy (% of all" \
    "$(nproc) cores):"
  echo
  cpu_table_header "slapd CPU ($(paths_slashed))" "machine busy ($(paths_slashed))"
  line="| search"
  slapd=""
  busy=""
  for path in $PATHS; do
    [ "$path" = direct ] || line="$line | ${CPU[search|$path]:--}"
    slapd="$slapd${slapd:+ / }${SLAPD_CPU[$path]:--}"
    busy="$busy${busy:+ / }${BUSY[search|$path]:--}"
  done
  echo "$line | $slapd | $busy |"
} >"$RESULTS_DIR/summary.md"

print_summary
