#!/usr/bin/env bash
# Installs schemathesis (API fuzzing from /openapi.json, test/fuzz/) into a cached venv, at the
# version pinned in test/fuzz/requirements.txt (a new release may add checks or generate other data,
# and the fuzz test must stay repeatable). Needs python3 with venv (Debian: python3-venv), installed
# with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(sed -n 's/^schemathesis==//p' test/fuzz/requirements.txt)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/sluice/schemathesis-$version"
if [ -x "$venv/bin/schemathesis" ] && "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$version"; then exit 0; fi
echo "[setup] installing schemathesis $version into $venv (first run only)"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! python3 -m venv "$venv" >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "[setup] schemathesis needs python3 with venv: sudo apt-get install python3 python3-venv" >&2
    exit 1
  fi
  echo "[setup] installing python3-venv (apt-get)"
  rm -rf "$venv"
  apt-get install -y -q python3 python3-venv >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q python3 python3-venv >/dev/null; }
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r test/fuzz/requirements.txt
