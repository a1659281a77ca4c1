#!/usr/bin/env bash
# Installs the Debian packages that Deskway's build, tests and demo need.
# Idempotent: does nothing (and needs no network) when they are all present.
set -euo pipefail

pkgs=(
  # build: cgo for the agent (robotgo, X11 capture) and the native viewer (Fyne, GL)
  gcc pkg-config libc6-dev
  libx11-dev libxtst-dev libpng-dev libxext-dev libxfixes-dev libxrandr-dev
  libxkbcommon-dev libxkbcommon-x11-dev libx11-xcb-dev libxcb-xkb-dev
  libgl1-mesa-dev xorg-dev
  # Windows cross-build of the agent
  gcc-mingw-w64-x86-64
  # test beds: X server, X tools used by tests, browser, database
  xvfb x11-utils xdotool xauth
  chromium
  postgresql
  # demo desktop: window manager, terminal, editor, fonts
  openbox xterm mousepad fonts-dejavu-core
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} Debian packages present"
  exit 0
fi

echo "deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the index only when it is missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null | head -1)" ]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
# A system PostgreSQL service is not needed: tests start their own cluster.
echo "deps: done"
