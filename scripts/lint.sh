#!/usr/bin/env bash
# gofmt and go vet over the whole module. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go') 2>&1 || true)
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
# The leaves must build (and vet) for the browser too.
GOOS=js GOARCH=wasm go vet ./proto/ ./codec/
echo "lint: ok"
