"""`reconciler validate [PATH]`: load and validate a repository's manifests, report every error.

Compiler-style lines (`file:line:col: error: field: message`, then the hint) or `-o json`.
Exit status: 0 valid, 1 invalid (or, with `--strict`, any warning: a reference to an object no
file declares, a field without effect), 2 usage error (PATH missing or not a directory), 3 the
installation's schemas/ cannot be read. `--verify-commits FILE` also requires PATH's HEAD commit to
be signed by a key in FILE, as the daemon's `verify_commits` does (exit 1 `SignatureInvalid`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from reconciler.cli import settings
from reconciler.manifests import loader, schemas
from reconciler.source import errors as source_errors
from reconciler.source import gitrun, signatures

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_BROKEN = 3
TIMEOUT = 60.0
"""Seconds each git command of `--verify-commits` may take."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="validate the manifests of a repository",
        description="Load every *.yaml/*.yml under PATH (dot-folders skipped), validate it "
        "against the supported Kubernetes subset and report all errors. Exit status: 0 valid, "
        "1 invalid (or any warning, with --strict), 2 usage error.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        metavar="PATH",
        help="repository directory (default: the current directory)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="output format (default: text)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) on warnings too: a ConfigMap, Secret, claim or Namespace that no "
        "file declares (accepted otherwise, as the Kubernetes API server does: the pod waits), "
        "a field without effect",
    )
    parser.add_argument(
        "--verify-commits",
        metavar="FILE",
        type=Path,
        help="also require PATH's HEAD commit to be signed by a key in FILE: an SSH "
        "allowed-signers file, or a binary OpenPGP keyring (gpg --export); what the daemon's "
        "verify_commits setting requires (uncommitted changes are not covered)",
    )
    parser.add_argument(
        "--service-cidr",
        metavar="CIDR",
        help="the network pinned clusterIPs must lie in (default: $RECONCILER_SERVICE_CIDR, "
        "the config file's service_cidr, else 10.96.0.0/12)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.verify_commits is not None:
        refused = verify_head(Path(args.path), args.verify_commits)
        if refused is not None:
            print(f"reconciler validate: {refused}", file=sys.stderr)
            return EXIT_INVALID if refused.startswith("SignatureInvalid:") else EXIT_USAGE
    try:
        result = loader.load_repository(args.path, service_cidr=settings.service_cidr(args))
    except (loader.RepositoryError, settings.SettingsError) as exc:
        print(f"reconciler validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except schemas.SchemaError as exc:
        print(f"reconciler validate: broken installation: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    if args.output == "json":
        print(json.dumps(as_json(result, args.path, args.strict), indent=2))
    else:
        print_text(result, args.path, args.strict)
    return EXIT_VALID if passed(result, args.strict) else EXIT_INVALID


def passed(result: loader.LoadResult, strict: bool) -> bool:
    return result.ok and not (strict and result.diagnostics)


def print_text(result: loader.LoadResult, prefix: str, strict: bool = False) -> None:
    for diagnostic in result.diagnostics:
        print(diagnostic.format(prefix))
        if diagnostic.hint:
            print(f"    hint: {diagnostic.hint}")
    errors = len(result.errors)
    files = len({d.file for d in result.errors})
    warnings = len(result.diagnostics) - errors
    if errors:
        summary = f"{_plural(errors, 'error')} in {_plural(files, 'file')}"
    elif strict and warnings:
        summary = f"{_plural(warnings, 'warning')}, refused by --strict"
    else:
        summary = (f"valid: {_plural(len(result.state), 'object')} in "
                   f"{_plural(len(result.files), 'file')}")  # fmt: skip
        summary += f" ({_plural(warnings, 'warning')})" if warnings else ""
    print(summary, file=sys.stdout if passed(result, strict) else sys.stderr)


def as_json(result: loader.LoadResult, prefix: str, strict: bool = False) -> dict[str, object]:
    return {
        "valid": passed(result, strict),
        "path": prefix,
        "files": len(result.files),
        "documents": result.documents,
        "objects": len(result.state),
        "errors": len(result.errors),
        "diagnostics": [d.as_json() for d in result.diagnostics],
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def verify_head(path: Path, keys: Path) -> str | None:
    """None when the HEAD commit of the repository at `path` is signed by a key in `keys` (an
    allowed-signers file, or a binary keyring whose first byte is an OpenPGP packet tag); else
    why not: `SignatureInvalid: ...`, or a usage problem (no repository, unreadable file)."""
    try:
        binary = keys.read_bytes()[:1] >= b"\x80"
    except OSError as exc:
        return f"--verify-commits {keys}: cannot read it: {exc.strerror}"
    policy = signatures.Policy(gpg_keyring=keys) if binary else signatures.Policy(keys)
    try:
        git_dir = gitrun.locate_git_dir(path)
        sha = gitrun.run(git_dir, ["rev-parse", "--verify", "HEAD^{commit}"], TIMEOUT)
        with tempfile.TemporaryDirectory(prefix="reconciler-gnupg-") as home:
            verifier = signatures.Verifier(policy, Path(home), TIMEOUT)
            verified = verifier.verify(git_dir, sha.decode("ascii").strip())
    except source_errors.SourceError as exc:
        return str(exc)
    print(f"commit {verified.sha}: signed by {verified.signer} (key {verified.key})",
          file=sys.stderr)  # fmt: skip
    return None
