#!/usr/bin/env bash
# Runs every test project (dotnet test on the solution) and prints one closing line:
# "N passed, N failed, N skipped". Skipped tests print their reason (for example: ../shared absent).
set -uo pipefail
cd "$(dirname "$0")/.."
config=${CONFIGURATION:-Debug}
results=$(mktemp -d)
build_flag=()
[ "$config" = "Release" ] && build_flag=(--no-build)
dotnet test EdgeInspect.sln -c "$config" "${build_flag[@]}" \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "$@"
rc=$?
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
