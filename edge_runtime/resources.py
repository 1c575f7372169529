"""Where the shipped files are: the models and their cards, the alert rules, the demo record.

One resolver for all of them, so a source checkout, an editable install and an installed
wheel find the same files. In a wheel the repository's top-level ``models/`` directory is
package data at ``edge_runtime/models`` (``pyproject.toml`` maps it there with
``package-dir``), found through :mod:`importlib.resources`; in a checkout (or an editable
install) that directory does not exist inside the package and the repository's ``models/``
is used. The demo record (``edge_runtime/data``) and the default alert rules
(``edge_runtime/config``) live inside the package in both cases.

A *default* model that cannot be found is an error, not a silent downgrade: a bedside
runtime that quietly runs without beat labels looks like it works (see :func:`require_model`).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from edge_runtime.errors import EcgEdgeError

__all__ = ["models_dir", "model_path", "require_model", "data_path", "config_path"]

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _package_dir(sub: str) -> Path | None:
    """``edge_runtime/<sub>`` as a real directory, or None when it is not there."""
    node = files("edge_runtime").joinpath(sub)
    if not node.is_dir():
        return None
    try:
        return Path(os.fspath(node))  # a plain install: a filesystem path
    except TypeError:  # a zipped install: onnxruntime needs real files
        raise EcgEdgeError(f"edge_runtime/{sub} is not on the file system (zipped install?); "
                           "install ecgedge unpacked (pip install)") from None


def models_dir() -> Path:
    """Directory of the shipped ``<task>.<precision>.<fmt>`` artifacts (and their cards):
    the package data of a wheel, else a checkout's ``models/``; when neither exists, the
    place a wheel would have them (so an error names the installed package)."""
    packaged = _package_dir("models")
    if packaged is not None:
        return packaged
    repo = _REPO_ROOT / "models"
    if (_REPO_ROOT / "pyproject.toml").is_file() or repo.is_dir():
        return repo
    return Path(__file__).resolve().parent / "models"


def model_path(task: str, precision: str = "int8", fmt: str = "onnx") -> Path:
    """Path of a shipped artifact by the naming contract ``models/<task>.<prec>.<fmt>``
    (it may not exist; see :func:`require_model`)."""
    return models_dir() / f"{task}.{precision}.{fmt}"


def require_model(task: str, precision: str = "int8", fmt: str = "onnx",
                  flag: str | None = None) -> Path:
    """The shipped artifact, or a one-line :class:`EcgEdgeError` saying what is missing."""
    p = model_path(task, precision, fmt)
    if p.is_file():
        return p
    hint = f"; pass {flag} PATH, or {flag} none to run without it" if flag else ""
    raise EcgEdgeError(f"shipped model {p.name} not found in {p.parent} (incomplete install "
                       f"or checkout: reinstall ecgedge or run `ecgedge export build`){hint}")


def data_path(name: str = "") -> Path:
    """A file (or the directory) of the records shipped inside the package."""
    base = _package_dir("data") or Path(__file__).resolve().parent / "data"
    return base / name if name else base


def config_path(name: str = "alerts.toml") -> Path:
    """A default configuration file shipped inside the package."""
    base = _package_dir("config") or Path(__file__).resolve().parent / "config"
    return base / name
