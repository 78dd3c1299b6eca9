"""Draw the peers chart (run by the peers virtualenv's Python, which has matplotlib).

Usage: python chart.py RESULTS_JSON OUT_PNG
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import matplotlib  # type: ignore[import-not-found,unused-ignore]  # in the peers' own virtualenv only

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # type: ignore[import-not-found,unused-ignore]


def main(results: str, out: str) -> None:
    data = json.loads(Path(results).read_text())
    sizes = [s for s in data["sizes"] if s in data["samples"]]
    tools = data["tools"]
    metrics = [("deploy", "first deploy (s)"), ("noop", "no-op re-run (s)"),
               ("mem", "controller peak memory (MiB)")]  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    width = 0.8 / len(tools)
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        for i, tool in enumerate(tools):
            values = []
            for size in sizes:
                runs = data["samples"][size].get(tool, [])
                got = [r[metric] for r in runs if r.get(metric) is not None]
                values.append(statistics.median(got) if got else 0)
            xs = [j + i * width for j in range(len(sizes))]
            ax.bar(xs, values, width, label=data["labels"][tool].replace("`", ""))
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sizes))])
        ax.set_xticklabels([s.replace("x", " x ") for s in sizes])
        ax.set_xlabel("hosts x containers per host")
        ax.set_title(label)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Same workload, four tools (medians; lower is better)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
