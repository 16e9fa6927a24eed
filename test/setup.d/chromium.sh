#!/usr/bin/env bash
# The console's browser tests drive Debian's headless Chromium with playwright-core (which never
# downloads a browser). Installs chromium-headless-shell when it is missing (as root, with apt-get);
# otherwise prints the command to run.
set -euo pipefail
if [ -x /usr/bin/chromium-headless-shell ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "[setup] chromium-headless-shell is missing: run  sudo apt-get install -y chromium-headless-shell  (the console browser tests need it)" >&2
  exit 0
fi
echo "[setup] installing chromium-headless-shell (Debian) for the console browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core >/dev/null
fi
