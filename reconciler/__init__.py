"""reconciler: a declarative GitOps reconciler for rootless Podman hosts reached over SSH.

Desired state lives in git as a strict subset of the Kubernetes API; the daemon diffs it against
what runs on each host and converges. See README.md and docs/.
"""

__version__ = "0.1.0"
