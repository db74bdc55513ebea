"""Deterministic build of `dist/scorer_lambda.zip` for python3.12 on arm64, with Lambda's size checks
(routing contract §7.4). Run it as `python -m components.packaging`.

The zip holds the `scorer_lambda/` package and its binary dependencies at the root. The same inputs always give the
same bytes (sorted entries, fixed timestamps and permissions), so `source_code_hash` only changes when code or
dependencies do. The Pulumi program never builds the package; it only size-checks and hashes an existing zip.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SOURCE_PACKAGE = "scorer_lambda"
DEFAULT_OUTPUT = Path("dist/scorer_lambda.zip")
DEFAULT_DEPS_DIR = Path("build/scorer_deps")

MAX_ZIPPED_BYTES = 52_428_800  # 50 MB: direct-upload limit
MAX_UNZIPPED_BYTES = 262_144_000  # 250 MB: unzipped limit including layers
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)

# Lambda's python3.12 runtime: Amazon Linux 2023 (glibc 2.34), arm64, CPython 3.12. Both platform tags are needed:
# with only manylinux_2_28 pip refuses manylinux2014 wheels; with only manylinux2014 it silently picks older
# releases of packages published solely as manylinux_2_28 wheels.
PIP_PLATFORM_ARGS = ("--only-binary=:all:", "--no-compile", "--platform", "manylinux2014_aarch64",
                     "--platform", "manylinux_2_28_aarch64", "--implementation", "cp", "--python-version", "3.12")
EXCLUDED_DIRS = frozenset({"__pycache__", "tests", "local"})  # `local/` is the dev server, not for Lambda


class PackageTooLargeError(ValueError):
    """The package exceeds one of Lambda's size limits."""


def install_dependencies(requirements: Path, target: Path) -> None:
    """`pip install --target` the requirements as aarch64/cp312 binary wheels (an sdist-only package fails here)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",  # noqa: S603
                    "--target", str(target), *PIP_PLATFORM_ARGS, "-r", str(requirements)], check=True)


def is_excluded(relative: Path, *, is_dependency: bool) -> bool:
    """Leave out bytecode, caches, tests, the local dev server and pip's `bin/` (its scripts name the build host's
    interpreter)."""
    parts = relative.parts
    if relative.suffix == ".pyc" or "__pycache__" in parts:
        return True
    if is_dependency:
        return parts[0] == "bin"
    return len(parts) > 1 and parts[1] in EXCLUDED_DIRS


def collect_entries(source_dir: Path, deps_dir: Path | None) -> list[tuple[str, Path]]:
    """Return `(archive name, file)` for the package (under its own name) and every dependency file (at the root)."""
    entries = []
    for path in source_dir.rglob("*"):
        relative = Path(source_dir.name) / path.relative_to(source_dir)
        if path.is_file() and not is_excluded(relative, is_dependency=False):
            entries.append((relative.as_posix(), path))
    if deps_dir is not None:
        for path in deps_dir.rglob("*"):
            relative = path.relative_to(deps_dir)
            if path.is_file() and not is_excluded(relative, is_dependency=True):
                entries.append((relative.as_posix(), path))
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise ValueError("the package and its dependencies contain the same archive path twice")
    return entries


def write_deterministic_zip(entries: Iterable[tuple[str, Path]], output: Path) -> str:
    """Write the zip with sorted entries, fixed timestamps and permissions; return its SHA-256 hex digest."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return hashlib.sha256(output.read_bytes()).hexdigest()


def check_sizes(zipped: int, unzipped: int) -> None:
    """Raise `PackageTooLargeError` naming the size and the limit when either Lambda limit is exceeded."""
    if zipped > MAX_ZIPPED_BYTES:
        raise PackageTooLargeError(f"scorer zip is {zipped} bytes, over Lambda's {MAX_ZIPPED_BYTES}-byte "
                                   "direct-upload limit")
    if unzipped > MAX_UNZIPPED_BYTES:
        raise PackageTooLargeError(f"scorer package unzips to {unzipped} bytes, over Lambda's "
                                   f"{MAX_UNZIPPED_BYTES}-byte limit")


def zip_sizes(path: Path) -> tuple[int, int]:
    """Return `(zipped bytes, sum of uncompressed entry sizes)`."""
    with zipfile.ZipFile(path) as zf:
        return path.stat().st_size, sum(info.file_size for info in zf.infolist())


def check_zip(path: Path) -> None:
    check_sizes(*zip_sizes(path))


def source_code_hash(path: Path) -> str:
    """Base64 SHA-256 of the zip: Lambda's `CodeSha256`, passed as `source_code_hash`."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def build(project_dir: Path = PROJECT_DIR, output: Path = DEFAULT_OUTPUT, deps_dir: Path = DEFAULT_DEPS_DIR) -> Path:
    """Install dependencies, write the zip and size-check it; relative paths are taken from `project_dir`."""
    source = project_dir / SOURCE_PACKAGE
    deps, out = project_dir / deps_dir, project_dir / output
    install_dependencies(source / "requirements.txt", deps)
    write_deterministic_zip(collect_entries(source, deps), out)
    check_zip(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.packaging", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip path, relative to the project")
    args = parser.parse_args(argv)
    try:
        out = build(output=args.output)
    except (subprocess.CalledProcessError, PackageTooLargeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    zipped, unzipped = zip_sizes(out)
    print(f"{out}: {zipped} bytes zipped, {unzipped} bytes unzipped, sha256 {source_code_hash(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
