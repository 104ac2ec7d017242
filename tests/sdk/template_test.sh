#!/usr/bin/env bash
# The SDK as a third-party author uses it: builds sdk/template out of tree with find_package(GatewaySDK),
# checks that gatewayd loads the plugin, and that a destination of its route type greets a client.
# Usage: template_test.sh SOURCE_DIR GATEWAYD
set -euo pipefail
source_dir=$1
gatewayd=$2
work=$(mktemp -d)
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake -S "$source_dir/sdk/template" -B "$work/build" -G Ninja -DGatewaySDK_DIR="$source_dir/sdk/cmake" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$work/build" >/dev/null
[ -f "$work/build/plugins/example.plugin.yaml" ] || fail "the SDK wrote no manifest"
grep -q '^sha256: [0-9a-f]\{64\}$' "$work/build/plugins/example.plugin.yaml" || fail "the manifest pins no SHA-256"

api=$(sed -n 's/^#define GW_PLUGIN_API_VERSION \([0-9]*\)$/\1/p' "$source_dir/plugin-api/include/gateway/plugin/abi.hpp")
listing=$("$gatewayd" plugins --plugin-path "$work/build/plugins")
echo "$listing" | grep -q "^example 1.0.0 plugin_api=$api route_types=example .* loaded\$" \
  || fail "gatewayd did not load the plugin: $listing"

# Only the entry points of the symbols GW_DECLARE_PLUGIN defines are exported.
exported=$(nm -D --defined-only "$work/build/plugins/libgateway_plugin_example.so" | awk '$2 ~ /[TDB]/ {print $3}' \
  | grep -v '^_' | sort | tr '\n' ' ')
[ "$exported" = "gw_plugin_abi_tag gw_plugin_create " ] || fail "unexpected exported symbols: $exported"

# A running gateway with a destination of the plugin's route type in front of a local TCP server.
cat > "$work/gw.yaml" <<YAML
node: {name: sdk-test, role: edge, workers: 1}
plugins: {paths: [build/plugins]}
admin: {listen: "127.0.0.1:0"}
destinations:
  - name: greeter
    route_type: example
    address: 127.0.0.1:9
    entry_point: {listen: "127.0.0.1:0"}
    settings: {greeting: "hello from the example plugin"}
YAML
"$gatewayd" check --config "$work/gw.yaml" >/dev/null || fail "check refused the example destination"
: >"$work/log"  # exists before tail follows it
"$gatewayd" run --config "$work/gw.yaml" >"$work/log" 2>&1 &
gw_pid=$!
timeout 20 grep -q -m1 'event=ready' <(tail -n +1 -f "$work/log") || fail "gateway did not start: $(cat "$work/log")"
port=$(sed -n 's/.*kind=entry_point destination=greeter .*address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/log")
[ -n "$port" ] || fail "no entry point in the log"
exec 3<>"/dev/tcp/127.0.0.1/$port"
greeting=$(timeout 10 head -c 29 <&3)
exec 3<&-
[ "$greeting" = "hello from the example plugin" ] || fail "client got '$greeting'"
echo "1 passed, 0 failed"
