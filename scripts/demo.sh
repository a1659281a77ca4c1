#!/usr/bin/env bash
# Placeholder until the demo issue lands: says what `make demo` will do and
# exits non-zero, so that nobody mistakes it for the working suite.
cat <<'MSG'
make demo is not built yet. When it is, it will:
  - install what it needs (as `make deps`) and build the binaries;
  - start the broker with an embedded relay on SQLite in a fresh directory;
  - create a demo admin and print its one-time password;
  - share this display (or a virtual Xvfb desktop) with an agent;
  - print the console URL and a support code to open in a browser.
MSG
exit 2
