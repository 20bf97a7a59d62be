#!/usr/bin/env bash
# Set up everything chaos-harness needs on a fresh Debian machine, then go.
#
#   scripts/go.sh demo   run the default scenario on the embedded cluster
#   scripts/go.sh test   run the unit and integration tests (and lint the workflows)
#
# This script makes the virtualenv and installs the package into it; `chaos-harness setup` then installs
# what `chaos-harness doctor` finds missing (Docker, Vagrant, Go, debootstrap, iptables), starts the Docker
# engine and builds the images. Every step is idempotent: a second run skips what is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What the virtualenv needs before the package exists
APT_PACKAGES=(python3-venv ca-certificates)
# chromium: the browser tests render the HTML reports in it; shellcheck: actionlint checks the workflows'
# shell steps with it
TEST_APT_PACKAGES=(chromium shellcheck)
# actionlint checks every workflow and the action (tests/unit/test_workflows.py); built once per user
ACTIONLINT=github.com/rhysd/actionlint/cmd/actionlint@v1.7.7
VENV=.venv

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

install_python_package() {
  local stamp
  stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ -f "$stamp" ]; then return; fi
  say "installing chaos-harness and its Python dependencies into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[test]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

install_actionlint() {
  local bin version=${ACTIONLINT##*@}
  bin="$(go env GOPATH)/bin/actionlint"
  if [ -x "$bin" ] && [ "$("$bin" -version | head -n 1)" = "$version" ]; then return; fi
  say "building actionlint $version into $(dirname "$bin")"
  go install "$ACTIONLINT"
}

main() {
  local what=${1:-}
  case "$what" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac
  if [ "$what" = test ]; then install_packages "${APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"
  else install_packages "${APT_PACKAGES[@]}"; fi
  install_python_package
  export PATH="$PWD/$VENV/bin:$PATH" VAGRANT_CHECKPOINT_DISABLE=1
  # the tests also bring up Vagrant's libvirt provider as far as this machine goes (to the box download), and
  # Kubernetes (built from source once per user: about ten minutes the first time)
  if [ "$what" = test ]; then chaos-harness --provider libvirt --engine kubernetes setup; else chaos-harness setup; fi
  case "$what" in
    demo) chaos-harness run halted-node ;;
    test) install_actionlint
          PATH="$PATH:$(go env GOPATH)/bin" python -m pytest tests -p no:cacheprovider ;;
  esac
}

# Sourced (to try one step), it only defines the steps
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
