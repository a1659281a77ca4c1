#!/usr/bin/env bash
# make demo: the whole Deskway suite on this machine, for a first look.
#
# Installs what it needs (scripts/deps.sh), builds the binaries (make build),
# makes a fresh data directory, starts the broker with its embedded relay on
# SQLite (plain HTTP on loopback), adds an admin with a random password,
# shares this display (or a virtual desktop on Xvfb: openbox, xterm,
# mousepad) with `deskway-agent share`, and prints the console URL, the
# admin's password and the support code. Ctrl-C stops everything.
#
# Knobs (environment):
#   DEMO_SKIP_DEPS=1      do not run scripts/deps.sh
#   DEMO_PORT=N           the broker's port (default 8080, or the next free one)
#   DEMO_LISTEN=ADDR      the address to bind (default 127.0.0.1; 0.0.0.0 for a
#                         forwarded port: plain HTTP, so only on a trusted network)
#   DEMO_DATA=DIR         the data directory (default demo-data/YYYYmmdd-HHMMSS)
#   DEMO_VIRTUAL=1        a virtual desktop even when $DISPLAY works
#   DEMO_SCREEN=WxH       the virtual desktop's size (default 1280x800)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/bin

say() { printf 'demo: %s\n' "$*"; }

# ---- processes we start: name, pid (a restarted one replaces its entry) ----
names=() pids=()
started() {
  local i
  for i in "${!names[@]}"; do
    if [ "${names[$i]}" = "$1" ]; then pids[$i]=$2; return; fi
  done
  names+=("$1")
  pids+=("$2")
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop NAME PID SECONDS: SIGTERM, SIGKILL after SECONDS, and reap it.
stop() {
  local name=$1 pid=$2 secs=$3 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      say "$name did not stop within ${secs}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

data=""
cleaned=0
cleanup() {
  [ "$cleaned" = 1 ] && return
  cleaned=1
  trap '' INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    # The agent first (it ends its session), then the desktop's programs,
    # then the broker (it drains), then the X server under them.
    local order=(agent mousepad xterm openbox broker xvfb) n i
    for n in "${order[@]}"; do
      for i in "${!names[@]}"; do
        if [ "${names[$i]}" = "$n" ]; then
          say "stopping $n"
          stop "$n" "${pids[$i]}" 10
        fi
      done
    done
    say "stopped everything it started."
  fi
  if [ -n "$data" ] && [ -d "$data" ]; then
    local rel=${data#"$root"/}
    cat <<EOF
demo: the data is kept in $data:
        broker.db, broker.db.key  the broker's SQLite database and its data key
        agent/                    the agent's keys and attempt counters
        *.log                     the logs of the broker, the agent and the desktop
      Remove it with: rm -rf $rel
EOF
  fi
}
trap cleanup EXIT
# Ctrl-C (or SIGTERM) is how the demo is meant to end: a clean exit.
trap 'exit 0' INT TERM

# fail MESSAGE [LOG]: says what went wrong, with the tail of LOG.
fail() {
  printf '\ndemo: ERROR: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then
    printf 'demo: the last lines of %s:\n' "$2" >&2
    tail -n 25 "$2" | sed 's/^/    /' >&2
  fi
  exit 1
}

# ---- 1. what it needs, and the build ----
if [ "${DEMO_SKIP_DEPS:-}" = 1 ]; then
  say "DEMO_SKIP_DEPS=1: not checking the Debian packages"
else
  say "checking the Debian packages (scripts/deps.sh; DEMO_SKIP_DEPS=1 skips this)"
  bash scripts/deps.sh || fail "scripts/deps.sh failed: install the packages it names (as root or with sudo), or run make deps"
fi
say "building (make build)"
make --no-print-directory SKIP_DEPS=1 build || fail "make build failed (see above)"
for b in deskway-broker deskway-agent; do
  [ -x "$bin/$b" ] || fail "$bin/$b is missing after make build"
done

# ---- 2. a fresh data directory ----
data=${DEMO_DATA:-$root/demo-data/$(date +%Y%m%d-%H%M%S)}
[ -e "$data" ] && [ -n "$(ls -A "$data" 2>/dev/null)" ] && { d=$data; data=""; fail "the data directory $d exists and is not empty: choose another DEMO_DATA"; }
mkdir -p "$data"
data=$(cd "$data" && pwd)
say "data directory: $data"

# ---- 3. the broker ----
listen=${DEMO_LISTEN:-127.0.0.1}
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "${DEMO_PORT:-}" ]; then
  port=$DEMO_PORT
  in_use "$port" && fail "port $port (DEMO_PORT) is in use: choose another"
else
  port=""
  for p in $(seq 8080 8099); do
    if ! in_use "$p"; then port=$p; break; fi
  done
  [ -n "$port" ] || fail "ports 8080 to 8099 are all in use: set DEMO_PORT"
fi
url="http://127.0.0.1:$port"
db="sqlite:$data/broker.db"

password=$(head -c 12 /dev/urandom | base64 | tr '+/' 'kq')
password=${password:0:4}-${password:4:4}-${password:8:4}-${password:12:4}
printf '%s\n%s\n' "$password" "$password" |
  "$bin/deskway-broker" user add demo --role admin --db "$db" --password-stdin --log-level warn >"$data/setup.log" 2>&1 ||
  fail "could not add the demo admin" "$data/setup.log"

setsid "$bin/deskway-broker" serve --db "$db" --insecure-http --listen "$listen:$port" --public-url "$url" \
  --shutdown-timeout 5s --log-level info </dev/null >"$data/broker.log" 2>&1 &
started broker $!
say "broker: $url (embedded relay, SQLite $data/broker.db), log: $data/broker.log"

healthy() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 2 status <&3 && [[ $status == *" 200 "* ]]
  ) 2>/dev/null
}
for ((i = 0; i < 300; i++)); do
  healthy && break
  alive "${pids[0]}" || fail "the broker exited at start" "$data/broker.log"
  sleep 0.1
done
healthy || fail "the broker did not answer $url/healthz within 30 s" "$data/broker.log"

# ---- 4. the desktop to share ----
virtual=1
if [ "${DEMO_VIRTUAL:-}" != 1 ] && [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then
  virtual=0
  display=$DISPLAY
  say "sharing this display ($display); a consent window will ask you on it when someone connects"
  agent_consent=(--prompt gui)
else
  [ -n "${DISPLAY:-}" ] && [ "${DEMO_VIRTUAL:-}" != 1 ] && say "DISPLAY=$DISPLAY does not answer: using a virtual desktop"
  screen=${DEMO_SCREEN:-1280x800}
  command -v Xvfb >/dev/null || fail "Xvfb is not installed (run make deps)"
  : >"$data/xvfb.display"
  setsid Xvfb -displayfd 3 -screen 0 "${screen}x24" -noreset -nolisten tcp \
    +extension XFIXES +extension DAMAGE +extension MIT-SHM +extension XTEST \
    </dev/null 3>"$data/xvfb.display" >"$data/xvfb.log" 2>&1 &
  started xvfb $!
  xvfb_pid=$!
  for ((i = 0; i < 200; i++)); do
    [ -s "$data/xvfb.display" ] && break
    alive "$xvfb_pid" || fail "Xvfb exited at start" "$data/xvfb.log"
    sleep 0.1
  done
  num=$(tr -dc 0-9 <"$data/xvfb.display")
  [ -n "$num" ] || fail "Xvfb gave no display number within 20 s" "$data/xvfb.log"
  display=:$num
  say "no display to share: started a virtual desktop on $display (Xvfb $screen, openbox, xterm, mousepad)"

  cat >"$data/welcome.txt" <<EOF
Welcome to the Deskway demo.

This is a virtual desktop (Xvfb $display) on the machine that runs
make demo. You see it through Deskway: the agent captures it, encodes
the changes and sends them, end-to-end encrypted, through the relay
to your browser.

Type here, open a menu with a right click on the desktop, move the
windows: everything you do goes to this desktop.
EOF
  cat >"$data/xterm.rc" <<EOF
cd "$data"
PS1='demo:\\w\\$ '
echo "A shell on the demo's virtual desktop (in the demo's data directory)."
echo "Try: ls -l; tail broker.log"
EOF
  DISPLAY=$display setsid openbox </dev/null >"$data/openbox.log" 2>&1 &
  started openbox $!
  sleep 0.5
  DISPLAY=$display setsid xterm -fa "DejaVu Sans Mono" -fs 10 -geometry 80x22+30+40 -title "Deskway demo terminal" \
    -e bash --rcfile "$data/xterm.rc" -i </dev/null >"$data/xterm.log" 2>&1 &
  started xterm $!
  DISPLAY=$display NO_AT_BRIDGE=1 GSETTINGS_BACKEND=memory setsid mousepad "$data/welcome.txt" </dev/null >"$data/mousepad.log" 2>&1 &
  started mousepad $!
  # On a virtual display nobody can answer a consent window: consent is
  # given up front with --yes (the agent says so in its output).
  agent_consent=(--yes)
  say "the agent grants viewing and control without asking (--yes): nobody is at a virtual display to answer the consent window"
fi

# ---- 5. the agent ----
agent_args=(share --broker "$url" --display "$display" --config-dir "$data/agent" --name demo-desktop --log-level info "${agent_consent[@]}")
: >"$data/agent.out"
start_agent() {
  setsid "$bin/deskway-agent" "${agent_args[@]}" </dev/null >>"$data/agent.out" 2>>"$data/agent.log" &
  agent_pid=$!
  started agent "$agent_pid"
}
start_agent

shown=0
code=""
# agent_lines: prints the agent's new status lines; sets code to the
# latest support code.
agent_lines() {
  local line n=0
  while IFS= read -r line; do
    n=$((n + 1))
    [ "$n" -le "$shown" ] && continue
    shown=$n
    if [[ $line =~ code\ is\ ([0-9]+-[0-9]{3}-[0-9]{3}) ]]; then
      code=${BASH_REMATCH[1]}
    else
      printf 'agent: %s\n' "$line"
    fi
  done <"$data/agent.out"
}
for ((i = 0; i < 300; i++)); do
  agent_lines
  [ -n "$code" ] && break
  alive "$agent_pid" || fail "the agent exited at start" "$data/agent.log"
  sleep 0.1
done
[ -n "$code" ] || fail "the agent showed no support code within 30 s" "$data/agent.log"

# ---- 6. where to connect ----
if [ "$virtual" = 1 ]; then
  desk="virtual display $display (Xvfb ${screen}: openbox, xterm, mousepad)"
  consent_step=""
else
  desk="this display ($display)"
  consent_step="
      A window on this display asks to allow it: click View and control."
fi
bind_note=""
[ "$listen" != 127.0.0.1 ] && bind_note="
   The broker listens on $listen:$port (DEMO_LISTEN) in plain HTTP: open it
   through a forwarded port on localhost, never across an untrusted network."
cat <<EOF

 ====================================================================
   Deskway demo is running.

   Console:       $url/
   Admin:         demo
   Password:      $password    (shown once; a hash is all the broker keeps)
   Support code:  $code
   Shared:        $desk

   1. Open $url/ in a browser on this machine.
   2. Sign in as demo with the password above.
   3. Click Support, type the code, Connect: the desktop appears.$consent_step
      Click into it and type; the toolbar has Ctrl-Alt-Del, view only,
      scaling, full screen and the clipboard.
   The admin pages (Users, Hosts, Relays, Sessions, Audit log) show the
   accounts, the relay and every session.$bind_note

   Ctrl-C stops everything; the data stays in $data.
 ====================================================================

EOF

# ---- 7. watch: show the agent's news, a new code after each session ----
broker_pid=${pids[0]}
while :; do
  sleep 0.5 &
  wait $! || true
  last=$code
  agent_lines
  [ "$code" != "$last" ] && printf '\ndemo: new support code: %s\n\n' "$code"
  alive "$broker_pid" || fail "the broker stopped" "$data/broker.log"
  if ! alive "$agent_pid"; then
    if wait "$agent_pid"; then
      agent_lines
      say "the session ended; sharing again with a new code"
      start_agent
    else
      fail "the agent failed" "$data/agent.log"
    fi
  fi
done
