#!/usr/bin/env bash
# Set up everything chaos-harness needs on a fresh Debian machine, then go.
#
#   scripts/go.sh demo   run the default scenario on the embedded cluster
#   scripts/go.sh test   run the unit and integration tests
#
# Every step is idempotent: a second run skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io vagrant debootstrap golang-go python3-venv iptables ca-certificates)
# chromium: the browser tests render the HTML reports in it; vagrant-libvirt, libvirt-daemon-system: the
# VM provider is tested as far as this machine goes (to the box download)
TEST_APT_PACKAGES=(chromium vagrant-libvirt libvirt-daemon-system)
LIBVIRTD_LOG=/var/log/chaos-harness-libvirtd.log
VENV=.venv
DOCKERD_LOG=/var/log/chaos-harness-dockerd.log

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

start_docker_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  say "no Docker engine answers; starting dockerd (log: $DOCKERD_LOG)"
  as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  echo "dockerd did not answer within 60 s; see $DOCKERD_LOG" >&2
  exit 3
}

start_libvirtd() {
  if virsh --connect qemu:///system uri >/dev/null 2>&1; then return; fi
  say "libvirt does not answer; starting libvirtd (log: $LIBVIRTD_LOG)"
  as_root mkdir -p /var/log/libvirt /var/run/libvirt
  as_root sh -c "nohup libvirtd >>'$LIBVIRTD_LOG' 2>&1 &"
  for _ in $(seq 1 30); do
    virsh --connect qemu:///system uri >/dev/null 2>&1 && return
    sleep 1
  done
  echo "libvirtd did not answer within 30 s; see $LIBVIRTD_LOG" >&2
  exit 3
}

install_python_package() {
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ -f "$stamp" ]; then return; fi
  say "installing chaos-harness and its Python dependencies into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[test]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

main() {
  local what=${1:-}
  case "$what" in demo|test) ;; *) echo "usage: $0 demo|test" >&2; exit 2 ;; esac
  if [ "$what" = test ]; then install_packages "${APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"
  else install_packages "${APT_PACKAGES[@]}"; fi
  start_docker_engine
  if [ "$what" = test ]; then start_libvirtd; fi
  install_python_package
  export PATH="$PWD/$VENV/bin:$PATH" VAGRANT_CHECKPOINT_DISABLE=1
  say "building images (unchanged images are kept)"
  chaos-harness setup
  case "$what" in
    demo) chaos-harness run scenarios/halted-node.yaml ;;
    test) python -m pytest tests -p no:cacheprovider ;;
  esac
}

main "$@"
