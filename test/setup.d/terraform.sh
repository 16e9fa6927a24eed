#!/usr/bin/env bash
# Terraform and OpenTofu binaries for the provider tests, built once per machine with `go install`
# into the tools cache (${SLUICE_TOOLS_DIR:-~/.cache/sluice/tools}/<name>-<version>/<name>):
#   - Terraform 1.5.7, the lowest version docs/provider.md claims (MPL-2.0; later releases with
#     replace directives refuse go install, 1.5.7 has none);
#   - OpenTofu 1.6.3 unless a tofu is on PATH (later OpenTofu tags refuse go install).
# A cold build takes minutes, so by default this starts the builds in the background and returns
# at once (test/run.sh calls it before npm ci); the tests wait for the binaries through
#   test/setup.d/terraform.sh --wait <terraform|tofu>
# which waits for a running build (the same lock), builds in the foreground if none ran, and
# prints the binary's path (exit 1 with the build log's tail if the build failed).
set -euo pipefail
cache="${SLUICE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/tools}"
mkdir -p "$cache"

# name -> "go package@version" (the pins; test/provider/tf.ts asks this script, never repeats them)
declare -A PKG=(
  [terraform]=github.com/hashicorp/terraform@v1.5.7
  [tofu]=github.com/opentofu/opentofu/cmd/tofu@v1.6.3
)
# Link flags of the release builds: without version.dev=no, go install's tofu calls itself 1.6.3-dev.
declare -A LDFLAGS=(
  [terraform]=''
  [tofu]='-X github.com/opentofu/opentofu/version.dev=no'
)
version() { local v="${PKG[$1]##*@v}"; echo "$v"; }
binary() { echo "$cache/$1-$(version "$1")/$1"; }

find_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
  command -v go >/dev/null 2>&1
}

# Builds one tool under its lock. $2 = -n: give up at once if another build holds the lock.
build() {
  local name="$1" nowait="${2:-}" bin dir log
  bin="$(binary "$name")"; dir="$(dirname "$bin")"; log="$dir.log"
  exec 9>"$dir.lock"
  if [ "$nowait" = -n ]; then flock -n 9 || return 0; else flock 9; fi
  [ -x "$bin" ] && return 0
  if ! find_go; then
    echo "go not found: cannot build $name $(version "$name"); install Go (or put $name on PATH)" | tee "$log" >&2
    return 1
  fi
  local tmp started
  tmp="$(mktemp -d "$cache/.build-$name-XXXXXX")"
  started=$(date +%s)
  echo "[setup] building $name $(version "$name") with go install (once per machine; log $log)" >&2
  # Static, stripped binary: nothing links against the system, and linking is faster.
  if CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false}" \
      go install -trimpath -ldflags="-s -w ${LDFLAGS[$name]}" "${PKG[$name]}" >"$log" 2>&1; then
    mkdir -p "$dir"
    mv "$tmp/$name" "$bin"
    echo "built in $(( $(date +%s) - started )) s" >>"$log"
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  echo "go install ${PKG[$name]} failed after $(( $(date +%s) - started )) s" >>"$log"
  return 1
}

wanted() {
  echo terraform
  command -v tofu >/dev/null 2>&1 || echo tofu
}

case "${1:-}" in
  --wait)
    name="${2:?usage: $0 --wait terraform|tofu}"
    [ -n "${PKG[$name]:-}" ] || { echo "unknown tool $name (known: ${!PKG[*]})" >&2; exit 2; }
    if ! build "$name"; then
      echo "building $name $(version "$name") failed; last lines of $(dirname "$(binary "$name")").log:" >&2
      tail -n 20 "$(dirname "$(binary "$name")").log" >&2 || true
      exit 1
    fi
    binary "$name"
    ;;
  --build)
    # The detached background build, one tool after the other (terraform first: without one on
    # PATH every provider test needs it); output in <tool>-<version>.log.
    shift
    # One background builder at a time (run.sh calls this hook twice: first thing, and with the other hooks).
    exec 8>"$cache/.builder.lock"
    flock -n 8 || exit 0
    rc=0
    for name in "$@"; do build "$name" -n || rc=1; done
    exit $rc
    ;;
  "")
    missing=()
    for name in $(wanted); do [ -x "$(binary "$name")" ] || missing+=("$name"); done
    [ ${#missing[@]} -eq 0 ] && exit 0
    if ! find_go; then
      echo "[setup] go not found: ${missing[*]} cannot be built; the tests that need them will fail" >&2
      exit 0
    fi
    echo "[setup] building ${missing[*]} in the background (once per machine; logs in $cache)" >&2
    # setsid: the build outlives this shell (and an interrupted run); the locks make it once per machine.
    setsid bash "$0" --build "${missing[@]}" </dev/null >/dev/null 2>&1 &
    ;;
  *) echo "usage: $0 [--wait terraform|tofu]" >&2; exit 2 ;;
esac
