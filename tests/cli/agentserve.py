"""A warm agent (`cli.agent`) whose executor is one `FakeExecutor` of h1..h3, run as a process
by tests/cli/test_agent.py: `python -m tests.cli.agentserve --dir DIR [--fingerprint TEXT]`.
$RECONCILER_TEST_SLOW (a client's variable, applied for its command) makes each observe take
that many seconds, for interrupting a command midway."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Sequence

from reconciler.cli import agent, agentrun
from reconciler.executor import fake
from reconciler.model import hoststate

SLOW = "RECONCILER_TEST_SLOW"


class SlowFake(fake.FakeExecutor):
    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        time.sleep(float(os.environ.get(SLOW) or 0))
        return super().observe(targets, detail=detail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--fingerprint")
    known, _ = parser.parse_known_args(argv)
    made = SlowFake(["h1", "h2", "h3"])
    pool = agentrun.ExecutorPool(lambda _resolved: made)
    return agent.main(["--dir", known.dir], pool=pool, fingerprint=known.fingerprint)


if __name__ == "__main__":
    sys.exit(main())
