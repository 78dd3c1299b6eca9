#!/bin/sh
# What a host runs at boot, as its reconciler user, after Podman's own podman-restart.service:
# start the reconciler's pods that their restartPolicy brings back, as the kubelet does after a
# node restart. Always: the whole pod; OnFailure: the containers that were running when the host
# went down or had exited with a non-zero code; Never: nothing. The reconciler sets Podman's own
# restart policy to "no" (it restarts containers itself, with back-off), so podman-restart alone
# starts none of them. Installed by scripts/bootstrap-host.sh as the user unit
# reconciler-boot.service; the test harness's `reboot` runs it too. Safe to run at any time:
# running pods are left alone.
set -u
label=reconciler.dev/restart-policy
for pod in $(podman pod ps -q --filter "label=$label=Always"); do
    podman pod start "$pod" >/dev/null || echo "reconciler-boot: cannot start pod $pod" >&2
done
# OnFailure: a container that ran when the host went down shows "created" after boot (Podman's
# refresh), one that had exited keeps its exit code.
for id in $(podman ps -a -q --filter "label=$label=OnFailure" --filter status=created); do
    podman start "$id" >/dev/null || echo "reconciler-boot: cannot start $id" >&2
done
podman ps -a --filter "label=$label=OnFailure" --filter status=exited --format '{{.ID}} {{.ExitCode}}' |
while read -r id code; do
    if [ "$code" != 0 ]; then
        podman start "$id" >/dev/null || echo "reconciler-boot: cannot start $id" >&2
    fi
done
exit 0
