#!/usr/bin/env bash
# Runs every test project under tests/ (dotnet test, one project after another so the
# integration tests' brokers and child processes do not compete for the 2 cores) and prints
# one closing line: "N passed, N failed, N skipped". Skipped tests print their reason
# (for example: ../shared absent, mosquitto not installed). Extra arguments go to dotnet test.
set -uo pipefail
cd "$(dirname "$0")/.."
config=${CONFIGURATION:-Debug}
results=$(mktemp -d)
build_flag=()
[ "$config" = "Release" ] && build_flag=(--no-build)
rc=0
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  dotnet test "$proj" -c "$config" "${build_flag[@]}" \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" "$@" || rc=1
done
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); failed=$((failed + ${f:-0}))
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters"); skipped=$((skipped + ${n:-0}))
done
rm -rf "$results"
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit 0
