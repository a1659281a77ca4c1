#!/usr/bin/env bash
# Cross-builds the agent for Windows (amd64) with cgo and Debian's
# mingw-w64, as CI does: robotgo and the screen capture need cgo.
# Output: bin/windows-amd64/deskway-agent.exe. Needs gcc-mingw-w64-x86-64
# (make deps installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC_WINDOWS:-x86_64-w64-mingw32-gcc}
if ! command -v "$CC" >/dev/null; then
  echo "build-windows: $CC not found (apt-get install gcc-mingw-w64-x86-64, or make deps)" >&2
  exit 1
fi
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=bin/windows-amd64
mkdir -p "$out"
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC="$CC" \
  go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$out/deskway-agent.exe" ./cmd/deskway-agent
# The agent's library code must also vet for Windows.
CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC="$CC" go vet ./agent/... ./cmd/deskway-agent
echo "build-windows: $out/deskway-agent.exe ($(stat -c %s "$out/deskway-agent.exe") bytes)"
