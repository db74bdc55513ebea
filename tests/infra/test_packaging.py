"""The scorer zip (routing contract §7.4): the deterministic writer on synthetic inputs, the size checks, and one
real build (pip download of the aarch64/cp312 wheels) shared by the content tests of this module."""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
from pathlib import Path

import pytest

from components import packaging

from .helpers import ROOT

EM_AARCH64 = 183


def _elf_machine(data: bytes) -> int | None:
    """`e_machine` of an ELF image (None if not ELF); the field sits at offset 18 in 32- and 64-bit headers."""
    if data[:4] != b"\x7fELF":
        return None
    return struct.unpack("<H" if data[5] == 1 else ">H", data[18:20])[0]


def _make_tree(root: Path) -> tuple[Path, Path]:
    source, deps = root / "scorer_lambda", root / "deps"
    files = {
        source / "__init__.py": b"",
        source / "handler.py": b"def handler(event, context):\n    return {}\n",
        source / "db" / "schema.sql": b"create table t (id int);\n",
        source / "__pycache__" / "handler.cpython-312.pyc": b"\0",
        source / "local" / "server.py": b"# dev server\n",
        source / "tests" / "test_x.py": b"def test(): pass\n",
        deps / "lib" / "__init__.py": b"x = 1\n",
        deps / "lib" / "module.pyc": b"\0",
        deps / "lib" / "tool.sh": b"#!/bin/sh\n",
        deps / "bin" / "script": b"#!/build/host/python\n",
        deps / "lib-1.0.dist-info" / "RECORD": b"lib/__init__.py,,\n",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (deps / "lib" / "tool.sh").chmod(0o755)
    return source, deps


def test_zip_writer_is_deterministic(tmp_path):
    source, deps = _make_tree(tmp_path)
    first = packaging.write_deterministic_zip(packaging.collect_entries(source, deps), tmp_path / "a.zip")
    for path in [*source.rglob("*"), *deps.rglob("*")]:
        os.utime(path, (1_000_000_000, 1_000_000_000))  # mtimes change between the two builds
    second = packaging.write_deterministic_zip(packaging.collect_entries(source, deps), tmp_path / "b.zip")
    assert first == second == hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()


def test_zip_entries_are_sorted_with_fixed_time_and_permissions(tmp_path):
    source, deps = _make_tree(tmp_path)
    out = tmp_path / "pkg.zip"
    packaging.write_deterministic_zip(packaging.collect_entries(source, deps), out)
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert names == ["lib-1.0.dist-info/RECORD", "lib/__init__.py", "lib/tool.sh", "scorer_lambda/__init__.py",
                     "scorer_lambda/db/schema.sql", "scorer_lambda/handler.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    modes = {i.filename: i.external_attr >> 16 for i in infos}
    assert modes["lib/tool.sh"] == 0o100755 and modes["scorer_lambda/handler.py"] == 0o100644


@pytest.mark.parametrize(("relative", "is_dependency", "excluded"), [
    ("scorer_lambda/handler.py", False, False),
    ("scorer_lambda/local/server.py", False, True),
    ("scorer_lambda/tests/test_x.py", False, True),
    ("scorer_lambda/__pycache__/x.cpython-312.pyc", False, True),
    ("scorer_lambda/api/local.py", False, False),
    ("bin/normalizer", True, True),
    ("cryptography/hazmat/bindings/_rust.abi3.so", True, False),
    ("jwt/__pycache__/api_jwt.cpython-312.pyc", True, True),
])
def test_exclusions(relative, is_dependency, excluded):
    assert packaging.is_excluded(Path(relative), is_dependency=is_dependency) is excluded, relative


def test_size_checks_name_size_and_limit():
    packaging.check_sizes(packaging.MAX_ZIPPED_BYTES, packaging.MAX_UNZIPPED_BYTES)  # at the limits: fine
    with pytest.raises(packaging.PackageTooLargeError, match=r"52428801 bytes, over Lambda's 52428800-byte"):
        packaging.check_sizes(packaging.MAX_ZIPPED_BYTES + 1, 0)
    with pytest.raises(packaging.PackageTooLargeError, match=r"262144001 bytes, over Lambda's 262144000-byte"):
        packaging.check_sizes(0, packaging.MAX_UNZIPPED_BYTES + 1)


def test_check_zip_rejects_a_synthetic_oversize_package(tmp_path, monkeypatch):
    out = tmp_path / "big.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("blob", b"\0" * 1_000_000)  # 1 MB that compresses to about 1 kB
    packaging.check_zip(out)
    monkeypatch.setattr(packaging, "MAX_UNZIPPED_BYTES", 999_999)
    with pytest.raises(packaging.PackageTooLargeError, match="unzips to 1000000 bytes"):
        packaging.check_zip(out)


def test_source_code_hash_is_base64_sha256(tmp_path):
    path = tmp_path / "f.zip"
    path.write_bytes(b"abc")
    assert packaging.source_code_hash(path) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory) -> Path:
    """One real build: pip installs the aarch64/cp312 wheels (needs PyPI), then the zip is written and checked."""
    work = tmp_path_factory.mktemp("scorer-build")
    return packaging.build(ROOT, output=work / "dist" / "scorer_lambda.zip", deps_dir=work / "deps")


def test_built_zip_contains_the_scorer_package(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
    source = ROOT / "scorer_lambda"
    expected = {f"scorer_lambda/{p.relative_to(source).as_posix()}" for p in source.rglob("*")
                if p.is_file() and not packaging.is_excluded(Path("scorer_lambda") / p.relative_to(source),
                                                             is_dependency=False)}
    assert "scorer_lambda/__init__.py" in names and "scorer_lambda/handler.py" in names
    assert expected <= names, f"source files missing from the zip: {sorted(expected - names)}"
    assert not [n for n in names if n.startswith(("scorer_lambda/local/", "scorer_lambda/tests/", "bin/"))]
    assert not [n for n in names if n.endswith(".pyc") or "/__pycache__/" in n]
    for package in ("psycopg/", "jwt/", "Crypto/", "cryptography/", "didkit/", "psycopg_binary/", "redis/"):
        assert any(n.startswith(package) for n in names), f"dependency {package} missing from the zip"


def test_built_zip_binaries_are_aarch64(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        machines = {n: _elf_machine(zf.read(n)) for n in zf.namelist() if ".so" in n.rsplit("/", 1)[-1]}
    wrong = {n: m for n, m in machines.items() if m != EM_AARCH64}
    assert wrong == {}, f"shared objects that are not AArch64 ELF: {wrong}"
    for prefix in ("didkit/didkit.cpython-312-aarch64-linux-gnu", "psycopg_binary/_psycopg.cpython-312-aarch64",
                   "cryptography/hazmat/bindings/_rust.abi3", "Crypto/Cipher/_raw_aes.abi3"):
        assert any(n.startswith(prefix) for n in machines), f"aarch64 binary {prefix}*.so missing"


def test_built_zip_is_within_lambda_limits(built_zip):
    zipped, unzipped = packaging.zip_sizes(built_zip)
    packaging.check_sizes(zipped, unzipped)
    assert zipped < packaging.MAX_ZIPPED_BYTES and unzipped < packaging.MAX_UNZIPPED_BYTES
    assert zipped > 1_000_000, "a zip without its binary dependencies would be far smaller"
