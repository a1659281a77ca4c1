#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 10s).
# A failure leaves its input under the package's testdata/fuzz for `go test`
# to replay, and makes this script exit non-zero after all targets ran.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
failed=()
count=0
for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  for t in $targets; do
    count=$((count + 1))
    printf 'fuzz: %-40s %s ... ' "$t" "${pkg#github.com/deskway/deskway/}"
    if out=$(go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
      echo ok
    else
      echo FAIL
      echo "$out" | tail -30
      failed+=("$pkg.$t")
    fi
  done
done
echo "fuzz: $count target(s), ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { printf '  %s\n' "${failed[@]}"; exit 1; }
