"""How fast the test lab comes up from nothing: 3 hosts against 1 host, same run.

Usage (root): .venv/bin/python -m bench.testhosts_bench [--repeat 3]
The baseline is bringing up a single host; the ratio shows how well hosts are built in parallel
(1.0x would be perfect). The absolute target from issue 2 is 3 hosts in under 60 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import report
from tests.harness import lab as labmod


def _time_up(count: int, state_dir: Path) -> float:
    lab = labmod.Lab(
        labmod.LabConfig(
            name="bench", state_dir=state_dir, bridge="thbr5", subnet=5,
            netns_prefix="b-", user_prefix="rcb-",
        )
    )  # fmt: skip
    lab.down()
    started = time.monotonic()
    lab.up(count)
    elapsed = time.monotonic() - started
    lab.down()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = [_time_up(1, Path(tmp) / "lab") for _ in range(args.repeat)]
        three = [_time_up(3, Path(tmp) / "lab") for _ in range(args.repeat)]
    m1, m3 = statistics.median(one), statistics.median(three)
    body = f"""
`python -m bench.testhosts_bench` (root). From nothing (users, namespaces, sshd, registry, image
push, a real `podman pull` and the pause image on every host, Podman API service) to every host
answering over SSH; medians of {args.repeat} runs; {report.machine()}.

| what | median | ratio to baseline |
|---|---|---|
| baseline: `up 1` | {m1:.1f} s | 1.00x |
| `up 3` | {m3:.1f} s | {m3 / m1:.2f}x |

Target: 3 hosts in under 60 s: {"met" if m3 < 60 else "NOT met"} ({m3:.1f} s).
"""
    report.write_section("Test hosts", body)
    print(body)


if __name__ == "__main__":
    main()
