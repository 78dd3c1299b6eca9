"""Template and spec hashes: stable across runs and processes, blind to field order and defaults,
and never carrying secret values in the clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from reconciler.model import base, hoststate, workloads
from reconciler.plan import expand, hashing

from . import builders as b

PINNED_TEMPLATE = workloads.PodTemplate(
    labels=base.FrozenMap({"app": "web"}),
    annotations=base.FrozenMap(),
    spec=b.spec(b.container("web", "nginx:1.25")),
)
# If this changes, every running pod gets a new name and is replaced on upgrade: change the hash
# only on purpose, and say so in the release notes.
PINNED_HASH = "lmmxl9plsx"


def test_template_hash_is_pinned() -> None:
    assert expand.template_hash(PINNED_TEMPLATE) == PINNED_HASH


def test_digest_shape() -> None:
    digest = hashing.digest({"a": 1}, 10)
    assert len(digest) == 10
    assert set(digest) <= set(hashing.ALPHABET)
    assert set(hashing.ALPHABET) <= set("abcdefghijklmnopqrstuvwxyz0123456789")


def test_digest_is_the_same_in_another_process() -> None:
    code = (
        "from tests.plan import test_hashing as t; "
        "from reconciler.plan import expand; "
        "print(expand.template_hash(t.PINNED_TEMPLATE))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == PINNED_HASH


def test_mapping_order_does_not_matter() -> None:
    one = base.FrozenMap({"a": "1", "b": "2"})
    two = base.FrozenMap({"b": "2", "a": "1"})
    assert hashing.digest(one, 10) == hashing.digest(two, 10)


def test_fields_at_their_default_are_left_out() -> None:
    plain = b.container("web", "nginx:1.25")
    explicit = b.container("web", "nginx:1.25", working_dir="", command=(), env=())
    assert hashing.canonical(plain) == {"name": "web", "image": "nginx:1.25"}
    assert hashing.digest(plain, 10) == hashing.digest(explicit, 10)


def test_every_change_changes_the_digest() -> None:
    base_container = b.container("web", "nginx:1.25")
    variants = [
        b.container("web", "nginx:1.26"),
        b.container("api", "nginx:1.25"),
        b.container("web", "nginx:1.25", args=("-g",)),
        b.container("web", "nginx:1.25", image_pull_policy=workloads.PullPolicy.ALWAYS),
    ]
    digests = {hashing.digest(c, 10) for c in [base_container, *variants]}
    assert len(digests) == len(variants) + 1


def test_order_of_a_tuple_matters() -> None:
    assert hashing.digest(("a", "b"), 10) != hashing.digest(("b", "a"), 10)


def test_sensitive_values_enter_only_as_digests() -> None:
    value = hoststate.Sensitive("correct-horse-battery")
    text = json.dumps(hashing.canonical((("PASSWORD", value),)))
    assert "correct-horse-battery" not in text
    assert hashing.digest(value, 10) != hashing.digest(hoststate.Sensitive("other"), 10)
