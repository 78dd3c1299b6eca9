"""The floor as its own process (so its wall time and memory are measured like every tool's).

Usage: python -m bench.peers.floor deploy|noop KEY KNOWN_HOSTS IMAGE W NAME=ADDRESS=USER...

deploy: plain `podman run -d` per container over one open SSH connection per host, hosts in
parallel (`bench.apply_floor.deploy`, mode "run"). noop: one `podman ps -a --format json` per
host on fresh connections (`bench.apply_floor.ps_all`): the least a re-run has to do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench import apply_floor


def main(argv: list[str]) -> int:
    action, key, known_hosts, image, width, *specs = argv
    targets = [apply_floor.Target(*spec.split("=")) for spec in specs]
    if action == "deploy":
        counts = {t.name: int(width) for t in targets}
        apply_floor.deploy(targets, counts, image, Path(key), Path(known_hosts), "run")
    else:
        apply_floor.ps_all(targets, Path(key), Path(known_hosts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
