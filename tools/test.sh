#!/usr/bin/env bash
# Runs every test project under tests/ (dotnet test, one project after another so the integration tests' brokers
# and child processes do not compete for the 2 cores) and prints one closing line: "N passed, N failed, N skipped".
# Skipped tests print their reason (for example: ../shared absent, mosquitto not installed).
#   --fast   leaves out the tests marked [Trait("Category", "Slow")] (over ~10 s each: soaks, child processes,
#            training, real-broker outages) for the inner loop; CI runs everything.
# Other arguments go to dotnet test.
set -uo pipefail
cd "$(dirname "$0")/.."
config=${CONFIGURATION:-Debug}
results=$(mktemp -d)
build_flag=()
[ "$config" = "Release" ] && build_flag=(--no-build)
fast=0
extra=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then fast=1; else extra+=("$arg"); fi
done
[ "$fast" -eq 1 ] && extra+=(--filter "Category!=Slow")

# The training smoke package (tools/train/train.py --smoke, a minute or two of CPU): trained once here and shared
# by every test that needs it through EDGEINSPECT_SMOKE_PACKAGE; the train.py output sits beside it for the
# trainer's own test. Without the Python toolchain the tests that need it skip and say why.
if [ "$fast" -eq 0 ] && [ -z "${EDGEINSPECT_SMOKE_PACKAGE:-}" ] && \
   /usr/bin/python3 -c "import torch, onnx, cv2, numpy" >/dev/null 2>&1; then
  smoke_root=$(mktemp -d)
  echo "== training the smoke package once for all test projects ($smoke_root/smoke)"
  if /usr/bin/python3 tools/train/train.py --smoke --out "$smoke_root/smoke" --name smoke >"$smoke_root/train.stdout" 2>&1; then
    rm -f "$smoke_root/smoke/train.log"   # not part of a package (the stdout beside it has the same lines)
    export EDGEINSPECT_SMOKE_PACKAGE="$smoke_root/smoke"
  else
    echo "   train.py --smoke failed (the tests that need it will train and report it):"; tail -5 "$smoke_root/train.stdout"
  fi
fi

rc=0
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  dotnet test "$proj" -c "$config" "${build_flag[@]}" \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" \
    --results-directory "$results" "${extra[@]}" || rc=1
done
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); failed=$((failed + ${f:-0}))
  # A skipped test is in "total" but not in "executed" (xunit's trx leaves "notExecuted" at 0).
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  skipped=$((skipped + ${t:-0} - ${e:-0}))
done
# The failed tests again at the very end, so that a log cut to its last lines still names them.
if [ "$failed" -ne 0 ]; then
  echo "== failed tests"
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | sed -n 's/.*testName="\([^"]*\)".*/  \1/p' | sed 's/&quot;/"/g; s/&amp;/\&/g'
  done
fi
# Keep the per-test durations for whoever wants to see what is slow (TEST_RESULTS=DIR).
[ -n "${TEST_RESULTS:-}" ] && mkdir -p "$TEST_RESULTS" && cp "$results"/*.trx "$TEST_RESULTS"/ 2>/dev/null
rm -rf "$results"
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit 0
