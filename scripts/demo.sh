#!/usr/bin/env bash
# Install everything and run the demo: bring up 3 test hosts (network namespaces with sshd and
# rootless Podman), preview and apply examples/repo, show where the pods run and the web app
# answering. Run as root on Debian 12. `scripts/testhosts down` removes the hosts again.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/testhosts up 3

# The test hosts' client key and pinned host keys (see README: connection settings).
export RECONCILER_SSH_KEY="$PWD/.hosts/id_ed25519"
export RECONCILER_KNOWN_HOSTS="$PWD/.hosts/known_hosts"
rc() { .venv/bin/reconciler "$@"; }

step() { printf '\n== %s\n' "$*"; }
step "reconciler validate examples/repo"
rc validate examples/repo
step "reconciler diff examples/repo (dry run; exit 1 means changes pending)"
rc diff examples/repo | tail -n 8 || true
step "reconciler apply examples/repo"
rc apply examples/repo
step "reconciler get pods -o wide -f examples/repo"
rc get pods -o wide -f examples/repo
step "reconciler get deployments -f examples/repo"
rc get deployments -f examples/repo
step "the web app, on each host's port 8080"
for address in 198.18.0.11 198.18.0.12 198.18.0.13; do
  printf '%s: ' "$address"
  .venv/bin/python - "$address" <<'PY'
import re, sys, urllib.request
body = urllib.request.urlopen(f"http://{sys.argv[1]}:8080/", timeout=5).read().decode()
match = re.search(r"<h1>(.*?)</h1>", body)
print(match.group(1) if match else body.strip())
PY
done
step "reconciler diff examples/repo again: nothing to change (exit 0)"
rc diff examples/repo | tail -n 4
printf '\ndemo done. Remove the hosts with: scripts/testhosts down\n'
