"""Hostile and broken input that cannot live as a plain file in tests/cases: symlinks, huge
files, FIFOs, alias bombs under time and memory bounds. Each gives a diagnostic, never raises."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from reconciler.manifests import loader, yamldocs
from reconciler.model import diagnostics as dg

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"


def _codes(result: loader.LoadResult) -> list[dg.Code]:
    return [d.code for d in result.diagnostics]


def test_symlink_to_a_file_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(NAMESPACE.format(name="stolen"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link.yaml").symlink_to(outside)
    result = loader.load_repository(repo)
    assert _codes(result) == [dg.Code.SYMLINK_OUTSIDE]
    assert result.diagnostics[0].file == "link.yaml"
    assert len(result.state) == 0


def test_symlinked_directory_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "ns.yaml").write_text(NAMESPACE.format(name="stolen"))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    result = loader.load_repository(repo)
    assert _codes(result) == [dg.Code.SYMLINK_OUTSIDE]
    assert len(result.state) == 0


def test_symlink_inside_the_repository_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "ns.txt").write_text(NAMESPACE.format(name="a"))
    (tmp_path / "ns.yaml").symlink_to(tmp_path / "real" / "ns.txt")
    result = loader.load_repository(tmp_path)
    assert result.ok
    assert [n.meta.name for n in result.state.namespaces] == ["a"]


def test_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nothing.yaml")
    result = loader.load_repository(tmp_path)
    assert _codes(result) == [dg.Code.IO_ERROR]


def test_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    started = time.monotonic()
    result = loader.load_repository(tmp_path)
    assert _codes(result) == [dg.Code.NOT_A_FILE]
    assert time.monotonic() - started < 5


def test_file_over_the_size_cap(tmp_path: Path) -> None:
    line = "  k{}: " + "x" * 100 + "\n"
    body = "".join(line.format(i) for i in range(11_000))
    (tmp_path / "big.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" + body
    )
    assert (tmp_path / "big.yaml").stat().st_size > yamldocs.DEFAULT_LIMITS.max_file_bytes
    result = loader.load_repository(tmp_path)
    assert _codes(result) == [dg.Code.FILE_TOO_LARGE]
    assert "1024 KiB" in result.diagnostics[0].message


def test_file_just_under_the_size_cap_loads(tmp_path: Path) -> None:
    line = "  k{}: " + "x" * 100 + "\n"
    body = "".join(line.format(i) for i in range(9_000))
    (tmp_path / "big.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n" + body
    )
    result = loader.load_repository(tmp_path)
    assert result.ok
    assert len(result.state.config_maps[0].data) == 9_000


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_fast_in_bounded_memory() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    parsed = yamldocs.parse_text(_bomb(10), "bomb.yaml")  # 9**10 nodes if expanded
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parsed.fatal
    assert [d.code for d in parsed.diagnostics] == [dg.Code.YAML_TOO_LARGE]
    assert elapsed < 1.0
    assert peak < 20 * 2**20


def test_small_alias_use_is_fine() -> None:
    parsed = yamldocs.parse_text(_bomb(3), "ok.yaml")
    assert not parsed.diagnostics


def test_extreme_nesting_is_refused_without_recursion_error() -> None:
    for text in (
        "[" * 100_000 + "]" * 100_000,
        "a:\n" + "".join(" " * i + "a:\n" for i in range(1, 2_000)),
    ):
        parsed = yamldocs.parse_text(text, "deep.yaml")
        assert [d.code for d in parsed.diagnostics] == [dg.Code.YAML_TOO_DEEP]


def test_nul_bytes_non_utf8_and_control_characters() -> None:
    cases = {
        b"apiVersion: v1\x00\n": dg.Code.BINARY_FILE,
        b"a: \xff\xfe\n": dg.Code.NOT_UTF8,
        "\ufeffa: 1\n".encode(): None,  # a UTF-8 byte-order mark is accepted
        b"a: \x07\n": dg.Code.YAML_SYNTAX,
    }
    for data, code in cases.items():
        parsed = _read_bytes(data)
        assert [d.code for d in parsed.diagnostics] == ([code] if code else [])


def _read_bytes(data: bytes) -> yamldocs.ParsedFile:
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "f.yaml"
        path.write_bytes(data)
        return yamldocs.read_file(path, "f.yaml")


def test_non_utf8_position() -> None:
    parsed = _read_bytes(b"a: 1\nb: caf\xe9\n")
    [diagnostic] = parsed.diagnostics
    assert (diagnostic.line, diagnostic.column) == (2, 7)


def test_many_documents_with_errors_are_capped(tmp_path: Path) -> None:
    (tmp_path / "many.yaml").write_text("".join("---\n- item\n" for _ in range(500)))
    result = loader.load_repository(tmp_path)
    assert len(result.diagnostics) < 200


def test_unknown_and_list_documents_in_one_file(tmp_path: Path) -> None:
    (tmp_path / "mixed.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\n[1, 2]\n---\n42\n"
    )
    result = loader.load_repository(tmp_path)
    assert _codes(result) == [dg.Code.UNKNOWN_KIND, dg.Code.NOT_A_MAPPING, dg.Code.NOT_A_MAPPING]
    assert [d.line for d in result.diagnostics] == [2, 6, 8]
