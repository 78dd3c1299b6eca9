"""`reconciler logs` and `reconciler exec` underneath, benchmarked against what a user would type by
hand: the Podman API over the executor's kept SSH connection (`containerlogs.stream`,
`containerexec.run`) versus a fresh `ssh HOST podman logs --tail 1` / `podman exec ... true`.

Run as root with the shared test hosts up, under the e2e lock:
`flock /tmp/e2e.lock .venv/bin/python -m bench.streams_bench [--reps 20]`. It makes one pod in
namespace `streams-bench` (its namespace's actions only: nothing else is pruned) and removes it.
Rewrites the "Logs and exec" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from reconciler.executor import containerexec, containerlogs
from tests.e2e import test_logs_exec
from tests.harness import lab as labmod


def _median_ms(fn: Callable[[], None], reps: int) -> float:
    times = []
    for _ in range(reps):
        started = time.monotonic()
        fn()
        times.append(time.monotonic() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    lab = labmod.Lab()
    test_logs_exec.NAMESPACE = "streams-bench"
    pod = test_logs_exec.Pod(lab, Path(tempfile.mkdtemp(prefix="streams-bench-")) / "repo")
    try:
        pod.remove_all()
        (created,) = pod.apply_namespace()
        assert created.outcome.value == "done", created.message
        time.sleep(2)  # a few lines in the log
        (seen,) = pod.observed()
        target = {t.name: t for t in pod.targets()}[seen.host]
        socket = pod.executor.api_socket(target)
        container = seen.containers[0].podman_id
        host = lab.get(seen.host)

        def first_byte() -> None:
            got: list[float] = []
            started = time.monotonic()
            containerlogs.stream(socket, seen.host, container, containerlogs.LogQuery(tail=1),
                                 lambda _k, _b: got.append(time.monotonic() - started))  # fmt: skip
            assert got

        def ssh_logs() -> None:
            lab.run_ok(lab.ssh_command(host, "podman", "logs", "--tail", "1", container))

        def api_exec() -> None:
            assert containerexec.run(socket, seen.host, container, ["true"], lambda k, b: None) == 0

        def ssh_exec() -> None:
            subprocess.run(lab.ssh_command(host, "podman", "exec", container, "true"), check=True)

        rows = [
            ("baseline: `ssh HOST podman logs --tail 1 C`", _median_ms(ssh_logs, args.reps)),
            ("`containerlogs.stream` (tail 1, kept connection)", _median_ms(first_byte, args.reps)),
            ("baseline: `ssh HOST podman exec C true`", _median_ms(ssh_exec, args.reps)),
            ("`containerexec.run` (`true`, kept connection)", _median_ms(api_exec, args.reps)),
        ]
    finally:
        pod.remove_all()
        pod.executor.close()
    logs_base, exec_base = rows[0][1], rows[2][1]
    lines = ["| what | median | ratio to its baseline |", "|---|---:|---:|"]
    for index, (what, ms) in enumerate(rows):
        base = logs_base if index < 2 else exec_base
        lines.append(f"| {what} | {ms:.1f} ms | {ms / base:.2f}x |")
    body = (
        "`python -m bench.streams_bench` (root, shared hosts, e2e lock): what `reconciler logs` "
        "and `exec` do once the pod is found, on the Podman API through the executor's kept SSH "
        f"connection, against a fresh ssh running podman by hand; medians of {args.reps} runs.\n\n"
        + "\n".join(lines)
        + f"\n\nThe CLI itself adds Python start-up and one observe of every host (about 3 s on "
        f"this loaded machine, as for `reconciler get pods`). {report.machine()}\n"
    )
    report.write_section("Logs and exec", body)
    print(body)


if __name__ == "__main__":
    main()
