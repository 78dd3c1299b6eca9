"""LocalRepoSource and RemoteSource against real repositories: exact trees, caching, errors."""

from __future__ import annotations

import gc
import os
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.source import errors, git, gitrun
from tests.source import repos


@pytest.fixture
def upstream(tmp_path: Path) -> repos.Upstream:
    return repos.Upstream(tmp_path)


def files_of(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(root).as_posix()] = path.read_text()
    return found


def local(upstream: repos.Upstream, tmp_path: Path, **kwargs: int) -> git.LocalRepoSource:
    return git.LocalRepoSource(upstream.bare, "main", tmp_path / "state", 10.0, **kwargs)


def test_resolve_follows_the_branch(upstream: repos.Upstream, tmp_path: Path) -> None:
    first = upstream.commit({"a.yaml": "one"})
    upstream.push()
    source = local(upstream, tmp_path)
    assert source.resolve() == first
    second = upstream.commit({"a.yaml": "two"})
    upstream.push()
    assert source.resolve() == second


def test_checkouts_hold_the_exact_tree_of_each_commit(
    upstream: repos.Upstream, tmp_path: Path
) -> None:
    first = upstream.commit(
        {"a.yaml": "a: 1\n", "b.yaml": "b: 1\n", "apps/web/c.yaml": "c: 1\n"}, "first"
    )
    second = upstream.commit(
        {"a.yaml": "a: 2\n", "b.yaml": None, "apps/web/d.yaml": "d: 2\n"}, "second"
    )
    upstream.push()
    source = local(upstream, tmp_path)

    one, two = source.checkout(first), source.checkout(second)

    assert one == tmp_path / "state" / "checkouts" / first
    assert files_of(one) == {"a.yaml": "a: 1\n", "apps/web/c.yaml": "c: 1\n", "b.yaml": "b: 1\n"}
    assert files_of(two) == {
        "a.yaml": "a: 2\n",
        "apps/web/c.yaml": "c: 1\n",
        "apps/web/d.yaml": "d: 2\n",
    }
    assert not (two / "b.yaml").exists()
    assert not (one / ".git").exists()


def test_modes_symlinks_and_binary_content_are_kept(
    upstream: repos.Upstream, tmp_path: Path
) -> None:
    (upstream.work / "bin").mkdir()
    (upstream.work / "bin" / "run.sh").write_text("#!/bin/sh\n")
    (upstream.work / "bin" / "run.sh").chmod(0o755)
    (upstream.work / "blob.bin").write_bytes(bytes(range(256)) * 5000)
    os.symlink("bin/run.sh", upstream.work / "link")
    repos.git(upstream.work, "add", "-A")
    sha = upstream.commit({"x.yaml": "x\n"})
    upstream.push()

    tree = local(upstream, tmp_path).checkout(sha)

    assert os.access(tree / "bin" / "run.sh", os.X_OK)
    assert not os.access(tree / "x.yaml", os.X_OK)
    assert (tree / "blob.bin").read_bytes() == bytes(range(256)) * 5000
    assert os.readlink(tree / "link") == "bin/run.sh"


def test_gitattributes_do_not_alter_the_checkout(upstream: repos.Upstream, tmp_path: Path) -> None:
    sha = upstream.commit(
        {
            ".gitattributes": "secret.yaml export-ignore\nsubst.yaml export-subst\n"
            "*.txt text eol=crlf\n",
            "secret.yaml": "kept\n",
            "subst.yaml": "$Format:%H$\n",
            "notes.txt": "line\n",
        }
    )
    upstream.push()

    tree = local(upstream, tmp_path).checkout(sha)

    assert (tree / "secret.yaml").read_text() == "kept\n"
    assert (tree / "subst.yaml").read_text() == "$Format:%H$\n"
    assert (tree / "notes.txt").read_bytes() == b"line\n"


def test_a_symlink_leaving_the_tree_refuses_the_commit(
    upstream: repos.Upstream, tmp_path: Path
) -> None:
    (upstream.work / "apps").mkdir()
    os.symlink("../../../etc/passwd", upstream.work / "apps" / "users.yaml")
    repos.git(upstream.work, "add", "-A")
    sha = upstream.commit({"ok.yaml": "ok\n"})
    upstream.push()
    source = local(upstream, tmp_path)

    with pytest.raises(errors.UnsafeRevision, match=r"apps/users.yaml.*outside") as caught:
        source.checkout(sha)

    assert not caught.value.transient
    assert list((tmp_path / "state" / "checkouts").iterdir()) == []  # no partial, no temp left


@pytest.mark.parametrize(
    "links",
    [
        {"a": "x/y/b/../..", "x/y/b": "../.."},  # each inside alone, outside together
        {"loop1": "loop2", "loop2": "loop1"},
        {"abs": "/etc"},
    ],
)
def test_symlinks_are_checked_after_all_exist(
    upstream: repos.Upstream, tmp_path: Path, links: dict[str, str]
) -> None:
    for name, target in links.items():
        (upstream.work / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, upstream.work / name)
    repos.git(upstream.work, "add", "-A")
    sha = upstream.commit({"ok.yaml": "ok\n"})
    upstream.push()
    with pytest.raises(errors.UnsafeRevision):
        local(upstream, tmp_path).checkout(sha)


def test_checkouts_are_cached_and_the_least_recently_used_pruned(
    upstream: repos.Upstream, tmp_path: Path
) -> None:
    shas = [upstream.commit({"n.yaml": f"{n}\n"}) for n in range(4)]
    upstream.push()
    source = local(upstream, tmp_path, keep_checkouts=2)
    checkouts = tmp_path / "state" / "checkouts"

    first = source.checkout(shas[0])
    (first / "marker").write_text("same directory")  # a cache hit must not rebuild it
    source.checkout(shas[1])
    old = time.time() - 100
    os.utime(checkouts / shas[0], (old, old))
    os.utime(checkouts / shas[1], (old + 1, old + 1))
    assert (source.checkout(shas[0]) / "marker").exists()  # hit: becomes most recently used
    source.checkout(shas[2])

    assert sorted(p.name for p in checkouts.iterdir()) == sorted([shas[0], shas[2]])
    source.checkout(shas[1])  # pruned ones come back on demand
    assert (checkouts / shas[1] / "n.yaml").read_text() == "1\n"


def test_concurrent_checkouts_of_one_commit_agree(upstream: repos.Upstream, tmp_path: Path) -> None:
    sha = upstream.commit({f"f{n}.yaml": str(n) for n in range(50)})
    upstream.push()
    source = local(upstream, tmp_path)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(source.checkout(sha))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(files_of(results[0])) == 50


def test_describe(upstream: repos.Upstream, tmp_path: Path) -> None:
    sha = upstream.commit({"a.yaml": "a"}, "web: three replicas\n\nlonger body")
    upstream.push()

    info = local(upstream, tmp_path).describe(sha)

    assert info.sha == sha
    assert sha.startswith(info.short) and len(info.short) >= 7
    assert info.author == "Ada Lovelace <ada@example.org>"
    assert info.subject == "web: three replicas"
    assert info.committed_at.tzinfo is not None
    assert abs(info.committed_at.timestamp() - time.time()) < 600


def test_missing_branch_says_to_push_it(upstream: repos.Upstream, tmp_path: Path) -> None:
    source = local(upstream, tmp_path)  # nothing pushed yet
    with pytest.raises(
        errors.BranchNotFound, match=r"branch 'main' does not exist.*push"
    ) as caught:
        source.resolve()
    assert not caught.value.transient


def test_unknown_or_malformed_commits_are_refused(upstream: repos.Upstream, tmp_path: Path) -> None:
    sha = upstream.commit({"a.yaml": "a"})
    upstream.push()
    source = local(upstream, tmp_path)
    tree_sha = repos.git(upstream.work, "rev-parse", "HEAD^{tree}")
    with pytest.raises(errors.RevisionNotFound):
        source.checkout("0" * 40)
    with pytest.raises(errors.RevisionNotFound):
        source.describe(tree_sha)  # an object, but not a commit
    with pytest.raises(errors.SourceError, match="full commit id"):
        source.checkout(sha[:12])
    with pytest.raises(errors.SourceError, match="full commit id"):
        source.checkout("--output=/tmp/x")


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(errors.RepositoryNotFound, match="git init --bare"):
        git.LocalRepoSource(tmp_path / "empty", "main", tmp_path / "state", 5.0)


def test_a_non_bare_repository_and_a_hostile_environment(
    upstream: repos.Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = upstream.commit({"a.yaml": "a"})
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))  # as inside a git hook
    source = git.LocalRepoSource(upstream.work, "main", tmp_path / "state", 5.0)
    assert source.resolve() == sha
    assert files_of(source.checkout(sha)) == {"a.yaml": "a"}


@pytest.mark.parametrize("branch", ["", "-x", "a..b", "a b", "x.lock", "a/", "@{u}", "a:b", "/a"])
def test_invalid_branch_names(upstream: repos.Upstream, tmp_path: Path, branch: str) -> None:
    with pytest.raises(errors.SourceConfigError, match="not a valid git branch name"):
        git.LocalRepoSource(upstream.bare, branch, tmp_path / "state", 5.0)


def test_valid_branch_names() -> None:
    for branch in ("main", "deploy/production", "release-1.2", "v2_x"):
        assert gitrun.check_branch(branch) == branch


# ----- remote ----------------------------------------------------------------------------------


def remote(upstream: repos.Upstream, tmp_path: Path, branch: str = "main") -> git.RemoteSource:
    return git.RemoteSource(f"file://{upstream.bare}", branch, tmp_path / "state", 10.0)


def test_remote_fetches_into_a_mirror(upstream: repos.Upstream, tmp_path: Path) -> None:
    first = upstream.commit({"a.yaml": "1"})
    upstream.push()
    source = remote(upstream, tmp_path)

    assert source.resolve() == first
    assert files_of(source.checkout(first)) == {"a.yaml": "1"}
    assert source.git_dir.parent == tmp_path / "state" / "mirrors"

    second = upstream.commit({"a.yaml": "2", "b.yaml": "b"}, "second")
    upstream.push()
    assert source.resolve() == second
    assert files_of(source.checkout(second)) == {"a.yaml": "2", "b.yaml": "b"}
    assert source.describe(second).subject == "second"


def test_remote_follows_a_force_push(upstream: repos.Upstream, tmp_path: Path) -> None:
    upstream.commit({"a.yaml": "1"})
    upstream.commit({"a.yaml": "2"})
    upstream.push()
    source = remote(upstream, tmp_path)
    source.resolve()
    repos.git(upstream.work, "reset", "--quiet", "--hard", "HEAD~1")
    rewritten = upstream.commit({"a.yaml": "3"}, "rewritten")
    upstream.push(None, "--force")
    assert source.resolve() == rewritten


def test_remote_missing_branch(upstream: repos.Upstream, tmp_path: Path) -> None:
    upstream.commit({"a.yaml": "1"})
    upstream.push()
    with pytest.raises(errors.BranchNotFound, match="'production'"):
        remote(upstream, tmp_path, branch="production").resolve()


def test_remote_that_is_no_repository_is_refused_not_retried(tmp_path: Path) -> None:
    source = git.RemoteSource(f"file://{tmp_path}/nothing.git", "main", tmp_path / "state", 5.0)
    with pytest.raises(errors.RemoteRefused, match="check the repository URL") as caught:
        source.resolve()
    assert not caught.value.transient


def test_ext_transport_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = git.RemoteSource(f"ext::sh -c touch% {marker}", "main", tmp_path / "state", 5.0)
    with pytest.raises(errors.RemoteRefused, match="transport"):
        source.resolve()
    assert not marker.exists()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says anything."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("scheme", ["git", "ssh"])
def test_a_hanging_remote_times_out(tmp_path: Path, silent_server: int, scheme: str) -> None:
    pins = tmp_path / "known_hosts"
    pins.write_text("")
    url = f"{scheme}://127.0.0.1:{silent_server}/x.git"
    source = git.RemoteSource(url, "main", tmp_path / "state", 1.0, known_hosts=pins)
    started = time.monotonic()
    with pytest.raises(errors.GitTimeout, match=r"within 1 s") as caught:
        source.resolve()
    assert time.monotonic() - started < 10  # generous: it must not wait for TCP's own timeouts
    assert caught.value.transient
    pattern = rf"127\.0\.0\.1:{silent_server}/|-p {silent_server} "  # git's and ssh's argv
    leftovers = subprocess.run(
        ["pgrep", "-a", "-f", pattern], check=False, capture_output=True, text=True
    )
    assert leftovers.stdout == ""  # git and ssh were killed together


def test_ssh_settings_always_verify_host_keys(tmp_path: Path) -> None:
    key, pins = tmp_path / "id key", tmp_path / "known_hosts"
    key.write_text("k")
    pins.write_text("")
    words = shlex.split(gitrun.ssh_command(key, pins))  # as sh will split it for git
    assert words[0] == "ssh"
    assert "StrictHostKeyChecking=yes" in words
    assert "BatchMode=yes" in words
    assert f"UserKnownHostsFile={pins}" in words
    assert words[words.index("-i") + 1] == str(key)
    spaced = shlex.split(gitrun.ssh_command(None, tmp_path / "my pins"))
    assert f'UserKnownHostsFile="{tmp_path}/my pins"' in spaced
    assert "-i" not in spaced
    assert "StrictHostKeyChecking=yes" in gitrun.environment()["GIT_SSH_COMMAND"]
    with pytest.raises(errors.SourceConfigError, match=r"known_hosts file .* does not exist"):
        git.RemoteSource(
            "ssh://git@example.org/x.git", "main", tmp_path, 5.0, known_hosts=tmp_path / "nope"
        )


def test_fetches_share_one_ssh_connection_through_a_private_socket(tmp_path: Path) -> None:
    words = shlex.split(gitrun.ssh_command(None, None, Path("/tmp/rc-git-x1")))
    assert "ControlMaster=auto" in words and "ControlPath=/tmp/rc-git-x1/%C" in words
    assert f"ControlPersist={gitrun.MUX_PERSIST}" in words and "ServerAliveInterval=10" in words
    assert "StrictHostKeyChecking=yes" in words  # the shared connection verified the key
    for unusable in (tmp_path / ("x" * 80), Path("/tmp/with space")):  # too long; blank
        said = shlex.split(gitrun.ssh_command(None, None, unusable))
        assert not any(w.startswith(("ControlPath", "ControlMaster")) for w in said)
    source = git.RemoteSource("ssh://git@example.org/x.git", "main", tmp_path, 5.0)
    mux = source._mux
    assert mux.is_dir() and mux.stat().st_mode & 0o777 == 0o700
    assert f"ControlPath={mux}/%C" in source._env["GIT_SSH_COMMAND"]
    del source
    gc.collect()
    assert not mux.exists()  # removed with its source


def test_make_source_chooses_by_location(upstream: repos.Upstream, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert isinstance(git.make_source(str(upstream.bare), "main", state, 5.0), git.LocalRepoSource)
    for url in (f"file://{upstream.bare}", "git@example.org:team/repo.git"):
        assert isinstance(git.make_source(url, "main", state, 5.0), git.RemoteSource)
