#!/usr/bin/env bash
# Builds the browser viewer's core to web/static/deskway.wasm (plus a gzip
# copy and wasm_exec.js from the Go distribution), which the broker embeds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d cmd/deskway-wasm ]; then
  echo "wasm: cmd/deskway-wasm does not exist yet; nothing to build"
  exit 0
fi
out=web/static
mkdir -p "$out"
GOOS=js GOARCH=wasm go build -trimpath -ldflags "-s -w" -o "$out/deskway.wasm" ./cmd/deskway-wasm
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
gzip -9 -n -c "$out/deskway.wasm" > "$out/deskway.wasm.gz"
printf 'wasm: %s (%d bytes, %d gzip)\n' "$out/deskway.wasm" "$(stat -c %s "$out/deskway.wasm")" "$(stat -c %s "$out/deskway.wasm.gz")"
