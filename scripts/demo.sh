#!/usr/bin/env bash
# Install everything and run the demo: 3 test hosts (network namespaces with sshd and rootless
# Podman), a git server, the reconciler daemon watching it; `git push` examples/repo over SSH and
# watch the pods come up, spread over the hosts, and the web app answer. Run as root on Debian 12.
# The daemon is stopped at the end; the hosts and pods stay: `scripts/testhosts down` removes them.
# DEMO_VERIFY_COMMITS=1: only signed commits deploy (an SSH signing key for the demo's pusher, an
# allowed_signers file, `verify_commits` in the daemon's config; docs/security.md).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
./scripts/testhosts up 3

step() { printf '\n== %s\n' "$*"; }
rc() { .venv/bin/reconciler "$@"; }
# The test hosts' client key and pinned host keys (see README: connection settings).
export RECONCILER_SSH_KEY="$PWD/.hosts/id_ed25519" RECONCILER_KNOWN_HOSTS="$PWD/.hosts/known_hosts"
# The TEST-ONLY age key that decrypts examples/repo's SOPS-encrypted Secret (docs/security.md).
export SOPS_AGE_KEY_FILE="$PWD/tests/harness/age/demo.key"
# The Services' cluster IPs: the range the test hosts route to their loopback (tests/harness/lab.py).
export RECONCILER_SERVICE_CIDR=198.19.128.0/17

step "reconciler validate examples/repo"
rc validate examples/repo

step "a git server: bare repository over SSH (host key pinned)"
git_json=$(./scripts/testhosts git-up)
field() { .venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$git_json" "$1"; }
url=$(field url); repository=$(field repository)
export GIT_SSH_COMMAND; GIT_SSH_COMMAND=$(field GIT_SSH_COMMAND)
echo "push to: $url"

step "the daemon (reconciler daemon --config .hosts/daemon/config.yaml)"
state=.hosts/daemon
mkdir -p "$state"
verify_yaml=""
if [ "${DEMO_VERIFY_COMMITS:-0}" = 1 ]; then
  [ -f "$state/signing_key" ] || ssh-keygen -q -t ed25519 -N "" -C demo -f "$state/signing_key"
  echo "demo@example.test $(cut -d' ' -f1,2 "$state/signing_key.pub")" > "$state/allowed_signers"
  verify_yaml="verify_commits:
  allowed_signers: $PWD/$state/allowed_signers"
  echo "only commits signed by $state/signing_key deploy (allowed: $state/allowed_signers)"
fi
cat > "$state/config.yaml" <<YAML
repository: $repository
branch: main
state_dir: $PWD/$state/state
resync_interval: 15
ssh_key: $RECONCILER_SSH_KEY
known_hosts: $RECONCILER_KNOWN_HOSTS
listen: 127.0.0.1:9400
age_key_file: $SOPS_AGE_KEY_FILE
service_cidr: $RECONCILER_SERVICE_CIDR
$verify_yaml
YAML
.venv/bin/reconciler daemon --config "$state/config.yaml" --log-format text \
  >"$state/daemon.log" 2>&1 &
daemon_pid=$!
trap 'kill "$daemon_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  .venv/bin/python -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:9400/healthz", timeout=1)' 2>/dev/null && break
  sleep 0.2
done
echo "daemon running (pid $daemon_pid), log: $state/daemon.log"

step "git push examples/repo over SSH"
work=$(mktemp -d)
cp -r examples/repo/. "$work/"
git -C "$work" init -q -b main
if [ "${DEMO_VERIFY_COMMITS:-0}" = 1 ]; then
  git -C "$work" config gpg.format ssh
  git -C "$work" config user.signingkey "$PWD/$state/signing_key"
  git -C "$work" config commit.gpgsign true
fi
git -C "$work" add -A
git -C "$work" -c user.name=demo -c user.email=demo@example.test commit -q -m "deploy the shop"
sha=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q "$url" main
started=$(date +%s%N)
echo "pushed $sha"

step "waiting for the daemon to apply it"
for _ in $(seq 300); do
  applied=$(.venv/bin/python - <<'PY'
import json, urllib.request
s = json.load(urllib.request.urlopen("http://127.0.0.1:9400/status", timeout=2))
last = s.get("lastFinishedSync") or {}
print(f'{s["revision"]["applied"]} {last.get("result")}')
PY
)
  [ "$applied" = "$sha Succeeded" ] && break
  sleep 0.2
done
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "applied ${sha:0:12} ${elapsed_ms} ms after the push returned"
rc status --state-dir "$state/state" || true

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

step "Service web: port 8000 of every host, balanced over the pods on all hosts"
rc get services -f examples/repo
for address in 198.18.0.11 198.18.0.12 198.18.0.13; do
  printf '%s:8000 served by: ' "$address"
  .venv/bin/python - "$address" <<'PY'
import re, sys, time, urllib.request
pods = []
for _ in range(6):
    for attempt in range(50):  # the new pods join the load balancer as they turn Ready
        try:
            body = urllib.request.urlopen(f"http://{sys.argv[1]}:8000/", timeout=5).read().decode()
            break
        except OSError:
            time.sleep(0.2)
    match = re.search(r"Served by pod (\S+)<", body)
    pods.append(match.group(1) if match else "?")
print(" ".join(pods))
PY
done

step "CronJob web-check (namespace ops): every minute, a Job fetches http://web.shop:8000/"
echo "waiting for its first run to finish (at the next full minute)..."
export RECONCILER_STATE_DIR="$PWD/$state/state"  # get jobs|cronjobs read the daemon's records
job=""
for _ in $(seq 200); do
  job=$(rc get jobs -n ops -o json -f examples/repo 2>/dev/null | .venv/bin/python -c '
import json, sys
done = [j for j in json.load(sys.stdin)["items"] if j["status"] in ("Complete", "Failed")]
print(max(done, key=lambda j: j["name"])["name"] if done else "")' || true)
  [ -n "$job" ] && break
  sleep 0.5
done
rc get cronjobs -f examples/repo
rc get jobs -n ops -f examples/repo
if [ -n "$job" ]; then
  echo "\$ reconciler logs job/$job -n ops"
  rc logs "job/$job" -n ops --filename examples/repo
fi

step "reconciler diff examples/repo: nothing left to change (exit 0)"
rc diff examples/repo | tail -n 4
step "the daemon's metrics (excerpt)"
.venv/bin/python -c 'import urllib.request; print("\n".join(l for l in urllib.request.urlopen("http://127.0.0.1:9400/metrics").read().decode().splitlines() if l.startswith(("reconciler_syncs_total", "reconciler_hosts_ready", "reconciler_objects"))))'
rm -rf "$work"
printf '\ndemo done (daemon stopped). Remove hosts, pods and git server with: scripts/testhosts down\n'
