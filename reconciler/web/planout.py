"""What `reconciler diff` prints for a prepared plan (stdout, stderr, exit code), made in one
place for both callers: the CLI planning here (`cli.diff`) and the daemon's dry run for a
one-shot CLI (POST /v1/diff, `web.dryrun`), so the two answers are the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.controllers import autoscale, sync
from reconciler.manifests import loader
from reconciler.model import hoststate, objects, workloads
from reconciler.plan import export, render

# The CLI's exit codes (cli.common's; a test keeps them equal): the web layer cannot import cli.
EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_INCOMPLETE = 4
OUTPUTS = ("text", "json")


@dataclass(frozen=True)
class Output:
    """A command's whole answer: printed as is by the CLI."""

    stdout: str
    stderr: str
    code: int

    def as_json(self) -> dict[str, object]:
        return {"stdout": self.stdout, "stderr": self.stderr, "code": self.code}


def hpa_notes(
    state: objects.DesiredState, observations: Mapping[str, hoststate.HostObservation]
) -> str:
    """For `diff`: each HPA-targeted Deployment's replicas are the HPA's, not drift from git."""
    counts = autoscale.observed_counts(state.autoscalers, state, observations)
    lines = []
    for h in state.autoscalers:
        target = state.get(h.target_key)
        if isinstance(target, workloads.Deployment) and h.target_key in counts:
            lines.append(f"Deployment {h.meta.namespace}/{h.target_name}: replicas owned by "
                         f"HorizontalPodAutoscaler {h.meta.name} ({counts[h.target_key]} kept, "
                         f"min {h.min_replicas}, max {h.max_replicas}; git's "
                         f"{target.replicas} is only the start): not drift")  # fmt: skip
    return "".join(f"{line}\n" for line in lines)


def incomplete(prepared: sync.Prepared) -> bool:
    result = prepared.result
    return bool(prepared.unreachable or result.unschedulable or result.errors)


def exit_code(prepared: sync.Prepared) -> int:
    if incomplete(prepared):
        return EXIT_INCOMPLETE
    return EXIT_OK if prepared.result.plan.empty else EXIT_CHANGES


def unreachable_lines(prepared: sync.Prepared, command: str) -> str:
    """One stderr line per host that could not be read (the error names the host)."""
    return "".join(f"reconciler {command}: {seen.error}\n" for seen in prepared.unreachable)


def diff(prepared: sync.Prepared, output: str) -> Output:
    """`reconciler diff -o OUTPUT` for `prepared` (a dry run: no controllers)."""
    stderr = ""
    if prepared.held is not None:  # the dry run plans on: shows what would be deleted
        stderr += f"reconciler diff: apply would be held: {prepared.held.message}\n"
    if output == "json":
        stdout = json.dumps(export.plan_json(prepared.result), indent=2, sort_keys=True) + "\n"
    else:
        stdout = render.diff_text(prepared.result) + render.summary(prepared.result)
        stdout += hpa_notes(prepared.load.state, prepared.observations)
    stderr += unreachable_lines(prepared, "diff")
    return Output(stdout, stderr, exit_code(prepared))


def invalid(load: loader.LoadResult, command: str, path: str) -> Output:
    """Manifests that do not validate, compiler style, with `path` (the user's own) before
    each file name; as `cli.common.print_invalid`."""
    lines = []
    for diagnostic in load.errors:
        lines.append(diagnostic.format(path))
        if diagnostic.hint:
            lines.append(f"    hint: {diagnostic.hint}")
    lines.append(f"reconciler {command}: {len(load.errors)} manifest error(s); nothing was "
                 f"planned or changed (run `reconciler validate {path}`)")  # fmt: skip
    return Output("", "".join(f"{line}\n" for line in lines), EXIT_INVALID)
