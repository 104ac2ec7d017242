#!/usr/bin/env bash
# Installs the Debian packages the gateway needs to build, test and benchmark, and any packages named
# as arguments (scripts/fuzz.sh adds Clang's). Idempotent and non-interactive; returns at once when
# everything is present.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache clang-format
  libboost-dev libssl-dev libyaml-cpp-dev libgtest-dev libnghttp2-dev nlohmann-json3-dev
  libgoogle-perftools-dev libldap-dev
  # tests and benchmarks: real peers and clients
  openssl curl iperf3 haproxy procps stunnel4 wrk nginx-light slapd ldap-utils
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Do not let package installs start services (haproxy would grab port 80 and be left running).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
# slapd would otherwise create a system directory with a generated admin password; tests run their own.
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
