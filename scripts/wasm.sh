#!/usr/bin/env bash
# Builds the browser viewer's core to web/static/deskway.wasm (plus a gzip
# copy and wasm_exec.js from the Go distribution), which the broker embeds.
#
# Tests that build the broker run this while other test packages compile
# and embed web/static, so the outputs are built aside and each is moved
# into place (a rename) only when it changed: a rebuild of the same
# sources touches nothing, and a reader never sees a half-written file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d cmd/deskway-wasm ]; then
  echo "wasm: cmd/deskway-wasm does not exist yet; nothing to build"
  exit 0
fi
out=web/static
mkdir -p "$out"
tmp=$(mktemp -d web/.wasm-build.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
GOOS=js GOARCH=wasm go build -trimpath -ldflags "-s -w" -o "$tmp/deskway.wasm" ./cmd/deskway-wasm
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$tmp/wasm_exec.js"
gzip -9 -n -c "$tmp/deskway.wasm" > "$tmp/deskway.wasm.gz"
for f in deskway.wasm deskway.wasm.gz wasm_exec.js; do
  cmp -s "$tmp/$f" "$out/$f" || mv -f "$tmp/$f" "$out/$f"
done
printf 'wasm: %s (%d bytes, %d gzip)\n' "$out/deskway.wasm" "$(stat -c %s "$out/deskway.wasm")" "$(stat -c %s "$out/deskway.wasm.gz")"
