"""Where the PhysioNet data lives.

Order: an explicit ``--data-dir``, else the ``ECGEDGE_DATA`` environment variable, else
``../shared/data`` (relative to the working directory, then to the repository) when present.
"""

from __future__ import annotations

import os
from pathlib import Path

from edge_runtime.errors import EcgEdgeError

_REPO_ROOT = Path(__file__).resolve().parent.parent


def candidate_data_dirs() -> list[Path]:
    """Default locations tried when neither flag nor environment names a data dir."""
    return [Path.cwd().parent / "shared" / "data", _REPO_ROOT.parent / "shared" / "data"]


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the data dir if one can be found, else None (for tests that skip).

    A dir named explicitly (``--data-dir``) that does not exist is a one-line error, never a
    silent fall-back to another copy of the data (or to the record shipped in the package).
    """
    if explicit:
        p = Path(explicit)
        if not p.is_dir():
            raise EcgEdgeError(f"data dir not found: {explicit}")
        return p
    env = os.environ.get("ECGEDGE_DATA")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    for p in candidate_data_dirs():
        if p.is_dir():
            return p
    return None


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data dir or raise a one-line :class:`EcgEdgeError`."""
    found = find_data_dir(explicit)
    if found is not None:
        return found
    if explicit:
        raise EcgEdgeError(f"data dir not found: {explicit}")
    if os.environ.get("ECGEDGE_DATA"):
        raise EcgEdgeError(f"data dir not found: ECGEDGE_DATA={os.environ['ECGEDGE_DATA']}")
    raise EcgEdgeError(
        "no data dir: pass --data-dir, set ECGEDGE_DATA, or place the data in ../shared/data"
    )
