"""What the packaged benchmarks share: where results go, which records to run, child envs.

In a source checkout the results go to ``docs/results`` as before; from an installed wheel
there is no such folder, so they go to the working directory. Without a PhysioNet data dir
the shipped MIT-BIH record 100 is benchmarked, so the benchmark needs nothing but the wheel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import edge_runtime
from edge_runtime.datadir import find_data_dir
from edge_runtime.errors import EcgEdgeError
from edge_runtime.resources import data_path

#: the directory holding the ``edge_runtime`` package (a checkout's root, or site-packages)
PKG_PARENT = Path(edge_runtime.__file__).resolve().parent.parent
CHECKOUT = PKG_PARENT if (PKG_PARENT / "docs" / "results").is_dir() else None


def results_dir() -> Path:
    """``docs/results`` of a checkout, else the working directory."""
    return CHECKOUT / "docs" / "results" if CHECKOUT else Path.cwd()


def display_path(p: Path) -> str:
    """A path relative to the checkout when it is inside it (stable across machines)."""
    if CHECKOUT is not None and p.is_relative_to(CHECKOUT):
        return str(p.relative_to(CHECKOUT))
    return str(p)


def record_dir(data_dir: str | None, records: str | None) -> tuple[Path, str]:
    """(directory of the MIT-BIH records, comma list of names to run).

    The data dir's ``mitdb`` when one is found; else the record(s) shipped in the package
    (record 100), said in one line on stderr."""
    root = find_data_dir(data_dir)
    if root is not None and (root / "mitdb").is_dir():
        mitdb = root / "mitdb"
        if records is None:
            rec_file = mitdb / "RECORDS"
            if not rec_file.is_file():
                raise EcgEdgeError(f"no RECORDS file in {mitdb}: pass --records")
            records = ",".join(rec_file.read_text().split())
        return mitdb, records
    if data_dir:
        raise EcgEdgeError(f"no mitdb/ in data dir {data_dir}")
    shipped = data_path()
    names = sorted(p.stem for p in shipped.glob("*.hea"))
    if records is None:
        print(f"no MIT-BIH data dir found: benchmarking the shipped record(s) "
              f"{', '.join(names)} (pass --data-dir for all 48)", file=sys.stderr)
        records = ",".join(names)
    return shipped, records


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a benchmark child process: this very ``edge_runtime`` first on the
    path (a checkout run with PYTHONPATH, or the installed package), one BLAS thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", **extra}
    if CHECKOUT is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(CHECKOUT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env
