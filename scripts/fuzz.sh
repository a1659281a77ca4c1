#!/usr/bin/env bash
# Runs every fuzz target in the module for FUZZTIME each (default 10s).
# A failure leaves its input under the package's testdata/fuzz for `go test`
# to replay, and makes this script exit non-zero after all targets ran.
#
# Go 1.26's fuzz coordinator can fail a run with a bare "context deadline
# exceeded" when -fuzztime ends while a starved worker is mid-call
# (go.dev/issue/75804, fixed in Go 1.27): no input is written and nothing
# reproduces. Such a run is retried once; if it happens again, the target's
# corpus is replayed as a plain test, and only a failure there (or any run
# that writes an input) counts.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
failed=()
flaked=()
count=0

# inputs DIR TARGET lists the saved inputs of TARGET in package DIR.
inputs() { ls "$1/testdata/fuzz/$2" 2>/dev/null | sort; }

for pkg in $(go list ./...); do
  targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
  [ -n "$targets" ] || continue
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for t in $targets; do
    count=$((count + 1))
    printf 'fuzz: %-40s %s ... ' "$t" "${pkg#github.com/deskway/deskway/}"
    before=$(inputs "$dir" "$t")
    verdict=FAIL
    for attempt in 1 2; do
      if out=$(go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1); then
        verdict=ok
        [ "$attempt" = 1 ] || verdict="ok (retried after the coordinator's deadline race)"
        break
      fi
      # A written input or any other failure is real.
      if [ "$(inputs "$dir" "$t")" != "$before" ] || ! grep -q '^    context deadline exceeded$' <<<"$out"; then
        break
      fi
      if [ "$attempt" = 2 ]; then
        if replay=$(go test -run "^${t}\$" "$pkg" 2>&1); then
          verdict="flake (coordinator deadline twice, corpus replays clean)"
          flaked+=("$pkg.$t")
        else
          out=$replay
        fi
      fi
    done
    echo "$verdict"
    if [ "$verdict" = FAIL ]; then
      echo "$out" | tail -30
      failed+=("$pkg.$t")
    fi
  done
done
echo "fuzz: $count target(s), ${#failed[@]} failed, ${#flaked[@]} hit only Go's deadline race"
[ ${#failed[@]} -eq 0 ] || { printf '  %s\n' "${failed[@]}"; exit 1; }
