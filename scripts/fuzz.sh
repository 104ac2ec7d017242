#!/usr/bin/env bash
# Fuzzes the gateway's parsers with libFuzzer (coverage-guided, ASan and UBSan): builds the fuzz
# targets of tests/fuzz with Clang in build/fuzz, then runs each for FUZZ_SECONDS starting from its
# corpus, tests/fuzz/corpus/<target>/. Inputs that reach new code are merged into that corpus (commit
# them: the unit tests replay it in every build). A finding (crash, sanitizer report, leak, timeout,
# violated property) leaves its input in build/fuzz/findings/<target>/ and makes the script fail.
#
#   scripts/fuzz.sh                  every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh ldap http_request
#   build/fuzz/bin/fuzz_ldap FILE    run one input again
#
# Settings (environment): FUZZ_SECONDS (60), FUZZ_JOBS (1: fuzzing processes per target, -fork),
# FUZZ_MAX_LEN (4096: longest input tried).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
max_len=${FUZZ_MAX_LEN:-4096}
build=build/fuzz

scripts/install-deps.sh clang libclang-rt-dev
if [ ! -f "$build/build.ninja" ]; then
  # Debug keeps assertions (Boost's included) on; -O1 keeps the targets fast.
  CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DGATEWAY_FUZZ=ON \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
fi
cmake --build "$build" --target gateway_fuzzers

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$f" _fuzz.cpp)
    targets+=("$name")
  done
fi

failed=()
for name in "${targets[@]}"; do
  binary="$build/bin/fuzz_$name"
  [ -x "$binary" ] || { echo "fuzz.sh: no fuzz target '$name'" >&2; exit 2; }
  corpus=tests/fuzz/corpus/$name
  work=$build/work/$name
  findings=$build/findings/$name
  mkdir -p "$corpus" "$work" "$findings"
  echo "fuzz.sh: $name for ${seconds}s" >&2
  # New inputs go to the scratch directory; the committed corpus is only read.
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-fork="$jobs")
  if ! "$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    "${parallel[@]}" -print_final_stats=1 -artifact_prefix="$findings/" \
    "$work" "$corpus" >"$build/$name.log" 2>&1; then
    failed+=("$name")
    echo "fuzz.sh: $name: finding in $findings/ (log: $build/$name.log)" >&2
    grep -m1 -E "ERROR|property violated|Assertion|terminate" "$build/$name.log" >&2 || true
  fi
  # Keep only what adds coverage to the committed corpus.
  "$binary" -merge=1 -max_len="$max_len" "$corpus" "$work" >"$build/$name.merge.log" 2>&1 || true
  rm -rf "$work"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no findings" >&2
