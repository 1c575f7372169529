"""Where a result came from: git commit (+ dirty flag), id-list hashes, source hashes.

One helper for every producer of results (training cards, export cards, benchmark JSON), so a
number can be traced to the exact code: the *full* 40-hex commit (a short hash is ambiguous
in a growing repository) and whether the work tree had uncommitted changes when it ran (then
the commit alone does not reproduce it). Cache keys use :func:`source_hash`: a cache of
derived data must change when the code that derives it changes, not only its configuration.

stdlib only (the runtime imports it on a Raspberry Pi).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import subprocess
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNKNOWN = "unknown"

__all__ = ["git_commit", "git_dirty", "provenance", "ids_hash", "source_files", "source_hash",
           "code_key"]


def _git(*args: str, repo: Path = REPO) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(repo: Path = REPO) -> str:
    """Full 40-hex ``HEAD`` commit, or ``"unknown"`` outside a git checkout."""
    out = _git("rev-parse", "HEAD", repo=repo)
    return out.strip() if out and len(out.strip()) == 40 else UNKNOWN


def git_dirty(repo: Path = REPO) -> bool | None:
    """True if tracked files differ from ``HEAD`` (untracked files ignored); None if unknown."""
    out = _git("status", "--porcelain", "--untracked-files=no", repo=repo)
    return None if out is None else bool(out.strip())


def provenance(repo: Path = REPO) -> dict[str, str | bool | None]:
    """``{"git_commit": 40-hex, "git_dirty": bool | None}``: the fields every result records."""
    return {"git_commit": git_commit(repo), "git_dirty": git_dirty(repo)}


def ids_hash(ids: Iterable) -> str:
    """The one hash format of an id list (record names, ecg_ids): order-free, 16 hex.

    Ids are compared as text (``str(int(i))`` for integers, so numpy and Python ints agree),
    sorted, comma-joined, SHA-1.
    """
    keys = []
    for i in ids:
        keys.append(str(int(i)) if hasattr(i, "__index__") else str(i))
    return hashlib.sha1(",".join(sorted(keys)).encode()).hexdigest()[:16]


def source_files(modules: Iterable[str]) -> list[Path]:
    """The ``.py`` files of ``modules`` (dotted names; a package means all its ``.py``
    files, recursively), sorted, found without importing them."""
    files: set[Path] = set()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(f"no source for module {name!r}")
        origin = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: every module in it
            for loc in spec.submodule_search_locations:
                files.update(Path(loc).rglob("*.py"))
        else:
            files.add(origin)
    return sorted(files)


def source_hash(modules: Iterable[str], files: Iterable[Path] | None = None) -> str:
    """16-hex hash of the source of ``modules`` (plus extra ``files``): a cache-key part
    that changes whenever the code a cache depends on changes."""
    paths = source_files(modules) + sorted(Path(f) for f in (files or ()))
    h = hashlib.sha1()
    for p in paths:
        try:
            rel = p.resolve().relative_to(REPO).as_posix()
        except ValueError:
            rel = p.name
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def code_key(modules: Iterable[str], libraries: Iterable[str] = ("numpy", "scipy")) -> str:
    """Cache-key part for data derived by ``modules``: their source hash plus the versions
    of the numeric ``libraries`` they call (a filter design can change with scipy)."""
    versions = []
    for lib in libraries:
        try:
            versions.append(f"{lib}={importlib.metadata.version(lib)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{lib}=absent")
    return source_hash(modules) + ";" + ",".join(versions)


#: the instruction-set flags that decide speed and int8 kernels (docs/portability.md)
SIMD_FLAGS = ("AVX2", "AVX512F", "AVX512BW", "AVX512VNNI", "AVXVNNI", "ASIMD", "ASIMDDP", "SVE")


def host() -> dict[str, object]:
    """The machine a timing ran on: speed numbers do not transfer across CPUs, so every
    benchmark JSON records the CPU model, its SIMD flags, the core count and Python."""
    import os
    import platform
    import sys

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from edge_runtime.ort_config import cpu_features

    feats = cpu_features()
    return {"cpu_model": model, "machine": platform.machine(),
            "simd_flags": [f for f in SIMD_FLAGS if feats.get(f)],
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
