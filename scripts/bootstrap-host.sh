#!/usr/bin/env bash
# Prepare a real host (Debian/Ubuntu with systemd) for the reconciler. Run as root ON the host:
#
#   bootstrap-host.sh [--user NAME] [--host NAME] [--install-packages]
#                     [--unprivileged-port-start N|keep] [--service-cidr CIDR|none]
#                     AUTHORIZED_KEY_FILE
#
# AUTHORIZED_KEY_FILE is the reconciler's public key (the .pub of the daemon's ssh_key).
# Idempotent: every step checks first and says what it found. It
#   1. creates the user (default "reconciler") if missing, login by key only;
#   2. makes sure it has subordinate uid/gid ranges (>= 65536 ids) for rootless Podman;
#   3. enables lingering (loginctl enable-linger), so its user services run without a login;
#   4. installs the public key in ~/.ssh/authorized_keys (once);
#   5. enables the user units podman.socket (the API the reconciler talks to),
#      podman-restart.service (restarts containers with a restart policy after a reboot) and
#      reconciler-boot.service (host-boot.sh, beside this script: starts the reconciler's pods
#      whose restartPolicy is Always or OnFailure at boot, before the daemon reconciles);
#   6. lets unprivileged users bind ports from 80 on (net.ipv4.ip_unprivileged_port_start, in
#      /etc/sysctl.d/60-reconciler-ports.conf; --unprivileged-port-start N for another floor, or
#      "keep" to leave it): Services on port 80 and 443 are bound by the user's rootless HAProxy
#      and hostPorts by rootless Podman. It never raises a value an administrator set lower;
#   7. routes the service CIDR (default 10.96.0.0/12, the daemon's service_cidr; "none" to skip)
#      to lo (ip route replace local CIDR dev lo), now and at every boot (the oneshot unit
#      reconciler-service-cidr.service): the rootless HAProxy binds Services that share a port on
#      their cluster IPs in it;
#   8. prints the host key fingerprints and known_hosts lines to pin on the reconciler's machine.
# It also checks for /usr/sbin/haproxy (package haproxy): the reconciler starts its own HAProxy as
# the user, over SSH (the per-host load balancer of Services); the system haproxy.service is unused.
# Nothing the reconciler later does on this host runs as root.
set -euo pipefail

USER_NAME=reconciler
HOST_NAME=""
INSTALL_PACKAGES=0
PORT_START=80
SERVICE_CIDR=10.96.0.0/12
KEY_FILE=""
MIN_SUBIDS=65536
PACKAGES=(podman uidmap slirp4netns fuse-overlayfs haproxy)

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

say() { echo "bootstrap-host: $*"; }
die() { echo "bootstrap-host: error: $*" >&2; exit 1; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --user) [ "$#" -ge 2 ] || usage; USER_NAME="$2"; shift 2 ;;
    --host) [ "$#" -ge 2 ] || usage; HOST_NAME="$2"; shift 2 ;;
    --install-packages) INSTALL_PACKAGES=1; shift ;;
    --unprivileged-port-start) [ "$#" -ge 2 ] || usage; PORT_START="$2"; shift 2 ;;
    --service-cidr) [ "$#" -ge 2 ] || usage; SERVICE_CIDR="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "bootstrap-host: unknown option $1" >&2; usage ;;
    *) [ -z "$KEY_FILE" ] || usage; KEY_FILE="$1"; shift ;;
  esac
done
[ -n "$KEY_FILE" ] || usage
[ "$(id -u)" -eq 0 ] || die "run as root (it creates a user and enables lingering)"
[[ "$USER_NAME" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "invalid user name: $USER_NAME"
case "$PORT_START" in
  keep) ;;
  ''|*[!0-9]*) die "--unprivileged-port-start takes a port from 0 to 1024, or keep: $PORT_START" ;;
  *) [ "$PORT_START" -le 1024 ] || die "--unprivileged-port-start takes a port from 0 to 1024" ;;
esac
[ "$SERVICE_CIDR" = none ] || [[ "$SERVICE_CIDR" =~ ^[0-9a-fA-F.:]+/[0-9]{1,3}$ ]] \
  || die "--service-cidr takes a network such as 10.96.0.0/12, or none: $SERVICE_CIDR"
[ -r "$KEY_FILE" ] || die "cannot read the public key file $KEY_FILE"
ssh-keygen -l -f "$KEY_FILE" >/dev/null 2>&1 || die "$KEY_FILE is not an SSH public key"
KEY_LINE="$(grep -m1 -E '^(ssh-|ecdsa-|sk-)' "$KEY_FILE")" || die "$KEY_FILE has no key line"
KEY_BLOB="$(echo "$KEY_LINE" | awk '{print $2}')"

if [ "$INSTALL_PACKAGES" -eq 1 ]; then
  command -v apt-get >/dev/null || die "--install-packages needs apt-get; install ${PACKAGES[*]}"
  say "installing ${PACKAGES[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
fi
for tool in podman loginctl systemctl runuser useradd usermod; do
  command -v "$tool" >/dev/null || die "$tool not found (install: ${PACKAGES[*]}; systemd needed)"
done
[ -x /usr/sbin/haproxy ] || die "/usr/sbin/haproxy not found (install: haproxy; Services need it)"
say "haproxy: $(/usr/sbin/haproxy -v | head -n1) (run by $USER_NAME, started by the reconciler)"

# 1. the user ------------------------------------------------------------------------------------
if id -u "$USER_NAME" >/dev/null 2>&1; then
  say "user $USER_NAME: exists"
else
  for attempt in 1 2 3 4 5; do  # useradd fails while another tool holds the /etc/passwd lock
    if useradd --create-home --user-group --shell /bin/bash "$USER_NAME"; then break; fi
    [ "$attempt" -lt 5 ] || die "useradd $USER_NAME failed"
    sleep 1
  done
  say "user $USER_NAME: created"
fi
USER_UID="$(id -u "$USER_NAME")"
USER_GROUP="$(id -gn "$USER_NAME")"
USER_HOME="$(getent passwd "$USER_NAME" | cut -d: -f6)"
[ -d "$USER_HOME" ] || die "home directory $USER_HOME of $USER_NAME does not exist"
# A new account is locked ("!"): sshd refuses locked accounts even for key logins (UsePAM no).
# "*" means: no password can ever match, keys only.
PASSWORD_FIELD="$(getent shadow "$USER_NAME" | cut -d: -f2)"
if [ "$PASSWORD_FIELD" = "!" ] || [ "$PASSWORD_FIELD" = "!!" ] || [ "$PASSWORD_FIELD" = "!*" ]; then
  usermod -p '*' "$USER_NAME"
  say "user $USER_NAME: unlocked for key logins (no password)"
fi

# 2. subordinate ids -----------------------------------------------------------------------------
subids_of() {  # FILE -> total ids of USER_NAME (by name or uid)
  awk -F: -v u="$USER_NAME" -v id="$USER_UID" '$1 == u || $1 == id { n += $3 } END { print n + 0 }' "$1"
}
next_free() {  # FILE -> first id after every range in it (at least 100000)
  awk -F: 'BEGIN { m = 100000 } NF >= 3 && $2 + $3 > m { m = $2 + $3 } END { print m }' "$1"
}
for kind in uid gid; do
  file="/etc/sub${kind}"
  touch "$file"
  have="$(subids_of "$file")"
  if [ "$have" -ge "$MIN_SUBIDS" ]; then
    say "sub${kind}s of $USER_NAME: $have"
  else
    start="$(next_free "$file")"
    end=$((start + MIN_SUBIDS - 1))
    usermod "--add-sub${kind}s" "${start}-${end}" "$USER_NAME"
    say "sub${kind}s of $USER_NAME: added ${start}-${end}"
  fi
done

# 3. lingering -----------------------------------------------------------------------------------
loginctl enable-linger "$USER_NAME"
say "linger for $USER_NAME: enabled"
systemctl start "user@${USER_UID}.service"
for _ in $(seq 1 30); do
  systemctl is-active --quiet "user@${USER_UID}.service" && break
  sleep 1
done
systemctl is-active --quiet "user@${USER_UID}.service" || die "user@${USER_UID}.service did not start"

# 4. the reconciler's key ------------------------------------------------------------------------
install -d -m 700 -o "$USER_NAME" -g "$USER_GROUP" "$USER_HOME/.ssh"
AUTHORIZED="$USER_HOME/.ssh/authorized_keys"
[ -e "$AUTHORIZED" ] || install -m 600 -o "$USER_NAME" -g "$USER_GROUP" /dev/null "$AUTHORIZED"
if awk -v blob="$KEY_BLOB" '{ for (i = 1; i <= NF; i++) if ($i == blob) found = 1 } END { exit !found }' "$AUTHORIZED"; then
  say "authorized key: already installed"
else
  echo "$KEY_LINE" >>"$AUTHORIZED"
  say "authorized key: installed in $AUTHORIZED"
fi
chown "$USER_NAME:$USER_GROUP" "$AUTHORIZED"
chmod 600 "$AUTHORIZED"

# 5. Podman user units ---------------------------------------------------------------------------
as_user() {
  runuser -u "$USER_NAME" -- env "XDG_RUNTIME_DIR=/run/user/${USER_UID}" \
    "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/${USER_UID}/bus" "$@"
}
as_user systemctl --user enable --now podman.socket podman-restart.service
say "podman.socket and podman-restart.service: enabled for $USER_NAME"
BOOT_SCRIPT="$(dirname "$0")/host-boot.sh"
[ -f "$BOOT_SCRIPT" ] || die "$BOOT_SCRIPT not found: copy scripts/host-boot.sh beside this script"
install -d -m 755 -o "$USER_NAME" -g "$USER_GROUP" "$USER_HOME/.local" "$USER_HOME/.local/bin" \
  "$USER_HOME/.config" "$USER_HOME/.config/systemd" "$USER_HOME/.config/systemd/user"
install -m 755 -o "$USER_NAME" -g "$USER_GROUP" "$BOOT_SCRIPT" "$USER_HOME/.local/bin/reconciler-boot"
cat >"$USER_HOME/.config/systemd/user/reconciler-boot.service" <<'UNIT'
[Unit]
Description=Start the reconciler's pods after boot (restartPolicy Always and OnFailure)
Wants=podman-restart.service
After=podman-restart.service podman.socket

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh %h/.local/bin/reconciler-boot

[Install]
WantedBy=default.target
UNIT
chown "$USER_NAME:$USER_GROUP" "$USER_HOME/.config/systemd/user/reconciler-boot.service"
as_user systemctl --user daemon-reload
as_user systemctl --user enable reconciler-boot.service
say "reconciler-boot.service: enabled for $USER_NAME (starts its pods at boot)"
if as_user podman info --format '{{.Host.Security.Rootless}}' 2>/dev/null | grep -qx true; then
  say "rootless podman as $USER_NAME: works (socket /run/user/${USER_UID}/podman/podman.sock)"
else
  echo "bootstrap-host: warning: 'podman info' as $USER_NAME failed; try: runuser -l $USER_NAME -c 'podman info'" >&2
fi

# 6. ports below 1024 ----------------------------------------------------------------------------
PORT_SYSCTL=net.ipv4.ip_unprivileged_port_start
if [ "$PORT_START" = keep ]; then
  say "$PORT_SYSCTL: kept at $(sysctl -n "$PORT_SYSCTL")"
else
  current="$(sysctl -n "$PORT_SYSCTL")"
  if [ "$current" -le "$PORT_START" ]; then
    say "$PORT_SYSCTL: $current (unprivileged users bind ports from $current on)"
  else
    printf '# scripts/bootstrap-host.sh: rootless HAProxy and Podman bind ports from %s on\n%s = %s\n' \
      "$PORT_START" "$PORT_SYSCTL" "$PORT_START" >/etc/sysctl.d/60-reconciler-ports.conf
    sysctl -q -w "$PORT_SYSCTL=$PORT_START"
    say "$PORT_SYSCTL: $current -> $PORT_START (/etc/sysctl.d/60-reconciler-ports.conf)"
  fi
fi

# 6b. the ports the reconciler allocates ----------------------------------------------------------
# Pods' published ports (42000-44999) and probe ports (41000-41999) are kept out of the ephemeral
# ports the kernel gives outgoing connections (32768-60999 by default): none is ever taken by one,
# which would make a pod's start fail with "address already in use".
RESERVED_SYSCTL=net.ipv4.ip_local_reserved_ports
RESERVED_PORTS=41000-44999
reserved="$(sysctl -n "$RESERVED_SYSCTL")"
case ",$reserved," in
  *",$RESERVED_PORTS,"*) say "$RESERVED_SYSCTL: $reserved (kept)" ;;
  *)
    wanted="${reserved:+$reserved,}$RESERVED_PORTS"
    printf '# scripts/bootstrap-host.sh: ports the reconciler publishes pods and probes on\n%s = %s\n' \
      "$RESERVED_SYSCTL" "$wanted" >/etc/sysctl.d/61-reconciler-reserved-ports.conf
    sysctl -q -w "$RESERVED_SYSCTL=$wanted"
    say "$RESERVED_SYSCTL: ${reserved:-none} -> $wanted (/etc/sysctl.d/61-reconciler-reserved-ports.conf)"
    ;;
esac

# 7. the service CIDR ---------------------------------------------------------------------------
CIDR_UNIT=/etc/systemd/system/reconciler-service-cidr.service
if [ "$SERVICE_CIDR" = none ]; then
  say "service CIDR: none (Services that share a port cannot be bound on this host)"
else
  IP_TOOL="$(command -v ip)" || die "ip not found (install iproute2)"
  "$IP_TOOL" route replace local "$SERVICE_CIDR" dev lo \
    || die "ip route replace local $SERVICE_CIDR dev lo failed: is it a network (host bits zero)?"
  cat >"$CIDR_UNIT" <<UNIT
[Unit]
Description=Route the reconciler's Service cluster IPs ($SERVICE_CIDR) to lo
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$IP_TOOL route replace local $SERVICE_CIDR dev lo

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable reconciler-service-cidr.service
  say "service CIDR $SERVICE_CIDR: routed to lo (at boot: $CIDR_UNIT)"
fi

# 8. the host key to pin -------------------------------------------------------------------------
[ -n "$HOST_NAME" ] || HOST_NAME="$(hostname -f 2>/dev/null || hostname)"
say "host key fingerprints (compare with what ssh-keyscan shows on the reconciler's machine):"
shopt -s nullglob
host_keys=(/etc/ssh/ssh_host_*_key.pub)
[ "${#host_keys[@]}" -gt 0 ] || die "no SSH host keys in /etc/ssh: is openssh-server installed?"
for pub in "${host_keys[@]}"; do
  echo "  $(ssh-keygen -l -f "$pub")"
done
say "known_hosts lines for $HOST_NAME (add to the reconciler's known_hosts file):"
for pub in "${host_keys[@]}"; do
  echo "$HOST_NAME $(awk '{print $1, $2}' "$pub")"
done
say "done: declare it as a Host with spec.address $HOST_NAME and spec.ssh.user $USER_NAME"
