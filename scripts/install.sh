#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine, as root:
# the Debian packages (Podman, sshd, registry, ...) and a virtualenv at .venv with the package
# and its development extras. Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  podman runc uidmap slirp4netns fuse-overlayfs catatonit containernetworking-plugins
  openssh-server openssh-client busybox-static iproute2 util-linux docker-registry git
  python3-venv python3-pip systemd shellcheck haproxy apache2-utils
  chromium  # the dashboard's browser test (Playwright drives it; no browser download)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it installs Debian packages)" >&2
  exit 2
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
echo "install.sh: ready (.venv/bin/reconciler)"
