#!/usr/bin/env bash
# Makes sure a terraform (or tofu) binary exists for the provider tests. If neither is on PATH,
# builds Terraform 1.5.7 (MPL-2.0, go-installable) into a cache dir that test/provider/tf.ts also
# looks in (each hook runs in its own shell, so PATH changes here would not reach the tests).
set -euo pipefail
cache="${SLUICE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/tools}"
if command -v terraform >/dev/null 2>&1 || command -v tofu >/dev/null 2>&1; then exit 0; fi
if [ -x "$cache/bin/terraform" ]; then exit 0; fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! command -v go >/dev/null 2>&1; then
  echo "[setup] neither terraform, tofu nor go found: provider tests will fail to find terraform" >&2
  exit 0
fi
echo "[setup] installing terraform 1.5.7 with go install into $cache/bin (first run only)"
GOBIN="$cache/bin" go install github.com/hashicorp/terraform@v1.5.7
