#!/usr/bin/env bash
# Set up uiagent on Debian 12 / Ubuntu 22.04+ and run one job:
#   scripts/setup.sh demo    Debian packages (when root or sudo), a venv in .venv, the package; then `uiagent demo`
#   scripts/setup.sh test    the same, then the whole test suite
#   scripts/setup.sh         set up only
# Idempotent: a second run skips what is already there (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-setup}"; shift || true

APT_PACKAGES=(
  xvfb xdotool x11-apps xterm x11-utils x11-xserver-utils xauth openbox
  dbus dbus-x11 at-spi2-core galculator bubblewrap mousepad libreoffice-calc libreoffice-gtk3
  chromium fonts-dejavu-core python3-tk python3-venv python3-dev gcc nodejs
)
MCP_INSPECTOR="@modelcontextprotocol/inspector@2.12.0"  # an independent MCP client for tests/display/test_mcp.py

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "Debian packages: all present"; return; }
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
      log "missing Debian packages (${missing[*]}) and no root/sudo: install them, then run again"; exit 2; fi
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null || continue
    if "$py" -c 'import sys, tkinter, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return; fi
  done
  log "need Python >= 3.11 with tkinter and venv (apt-get install python3 python3-tk python3-venv)"; exit 2
}

install_venv() {
  local py stamp want
  py="$(pick_python)"
  [ -x .venv/bin/python ] || { log "creating .venv with $py"; "$py" -m venv .venv; }
  stamp=.venv/.uiagent-installed
  want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import uiagent' 2>/dev/null; then
    log "venv: up to date"; return; fi
  log "installing uiagent and its test tools into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
}

# The MCP Inspector's CLI, from the npm registry, into .cache/ (tests only).
install_inspector() {
  [ -x .cache/mcp-inspector/node_modules/.bin/mcp-inspector ] && { log "MCP Inspector: present"; return; }
  command -v npm >/dev/null || { log "npm is missing (apt-get install npm): needed for the MCP Inspector"; exit 2; }
  log "installing $MCP_INSPECTOR into .cache/mcp-inspector"
  npm install --silent --no-audit --no-fund --prefix .cache/mcp-inspector "$MCP_INSPECTOR" >&2
}

# The rules of ARCHITECTURE.md: import contracts, strict types, and only the CLI prints.
check_architecture() {
  log "import contracts (lint-imports), strict types (mypy), prints outside the CLI (ruff T20)"
  .venv/bin/lint-imports --no-cache >&2
  .venv/bin/mypy >&2
  .venv/bin/ruff check --quiet --select T20 agent actions uiagent >&2
}

install_debian_packages
install_venv
export PATH="$PWD/.venv/bin:$PATH"

case "$job" in
  demo) exec .venv/bin/uiagent demo "$@" ;;
  test) check_architecture; install_inspector; exec .venv/bin/python -m pytest -n 2 -q "$@" ;;
  setup) log "ready: .venv/bin/uiagent --help" ;;
  *) log "unknown job '$job': use demo, test, or nothing"; exit 2 ;;
esac
