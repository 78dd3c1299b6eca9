#!/usr/bin/env bash
# Install everything and run the demo: bring up 3 test hosts (network namespaces with sshd and
# rootless Podman) and show each one reachable over SSH with strict host-key checking.
# Run as root on Debian 12. `scripts/testhosts down` removes the hosts again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/testhosts up 3
echo
for host in h1 h2 h3; do
  echo "== $host: whoami, rootless podman, a container from the lab registry"
  ./scripts/testhosts ssh "$host" sh -c \
    'echo "user $(id -un) on $(hostname -I)"; podman info --format "rootless={{.Host.Security.Rootless}}"'
  ./scripts/testhosts ssh "$host" podman run --rm 198.18.0.1:5000/demo/busybox:latest \
    echo "hello from a container on $host"
done
echo
echo "demo: 3 hosts up. Remove them with: scripts/testhosts down"
