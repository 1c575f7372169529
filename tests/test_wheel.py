"""The wheel works alone: it carries the shipped models (with their cards), the default alert
rules, the demo record and the device benchmark; installed outside the repository it finds
them; and a missing *default* model is a one-line error, never a silent run without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from edge_runtime import resources
from edge_runtime.cli import main as cli_main
from edge_runtime.errors import EcgEdgeError

REPO = Path(__file__).resolve().parent.parent
TOP = ("edge_runtime", "firmware_sim", "train", "export")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_package_list_names_every_package_of_the_source_tree():
    """The package list is explicit (discovery cannot remap models/): a new subpackage that
    is not added to it would be missing from the wheel."""
    st = _pyproject()["tool"]["setuptools"]
    listed = set(st["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts)
               for top in TOP for p in (REPO / top).rglob("__init__.py")}
    assert on_disk <= listed, f"add to pyproject [tool.setuptools] packages: {on_disk - listed}"
    assert st["package-dir"] == {"edge_runtime.models": "models"}
    for pkg in listed - {"edge_runtime.models"}:  # everything else is where its name says
        assert (REPO / pkg.replace(".", "/")).is_dir(), pkg


def test_checkout_resolves_the_repository_models():
    if (REPO / "edge_runtime" / "models").exists():
        pytest.skip("edge_runtime/models exists in the checkout (a stray build?)")
    assert resources.models_dir() == REPO / "models"
    assert resources.require_model("beat") == REPO / "models" / "beat.int8.onnx"
    assert resources.data_path("100.hea").is_file()
    assert resources.config_path("alerts.toml").is_file()
    with pytest.raises(EcgEdgeError, match="shipped model beat.int16.onnx not found"):
        resources.require_model("beat", "int16", flag="--beat-model")


def test_missing_default_model_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(resources, "models_dir", lambda: tmp_path)
    rc = cli_main(["run", "--record", "100", "--duration", "5", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1
    assert "beat.int8.onnx not found" in err and "--beat-model none" in err
    # explicitly without models: runs (no silent downgrade, but an explicit choice is fine)
    j = tmp_path / "j.jsonl"
    rc = cli_main(["run", "--record", "100", "--duration", "5", "--quiet", "--journal", str(j),
                   "--beat-model", "none", "--window-model", "none"])
    assert rc == 0 and j.is_file()


def _copy_source(dst: Path) -> None:
    """The files a wheel is built from, so the build leaves nothing in the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "checkpoints")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dst / name)
    for top in (*TOP, "models"):
        shutil.copytree(REPO / top, dst / top, ignore=ignore)


@pytest.mark.slow
def test_wheel_carries_its_files_and_runs_outside_the_repo(tmp_path):
    try:
        import setuptools  # noqa: F401
    except ModuleNotFoundError:
        pytest.skip("setuptools is not installed: cannot build the wheel offline")
    src, dist, site, work = (tmp_path / d for d in ("src", "dist", "site", "work"))
    for d in (src, work):
        d.mkdir()
    _copy_source(src)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ECGEDGE_DATA")}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "--no-index", "-w", str(dist), str(src)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (whl,) = dist.glob("ecgedge-*.whl")
    names = set(zipfile.ZipFile(whl).namelist())
    shipped = [p.name for p in (REPO / "models").iterdir()
               if p.suffix in (".onnx", ".tflite") or p.name.endswith(".card.json")]
    assert shipped
    for n in shipped:
        assert f"edge_runtime/models/{n}" in names, n
    assert not any("checkpoints" in n or n.endswith(".pt") for n in names)
    for n in ("data/100.hea", "data/100.dat", "data/100.atr", "config/alerts.toml",
              "benchmark/pipeline.py"):
        assert f"edge_runtime/{n}" in names, n

    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-index", "--target", str(site), str(whl)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert inst.returncode == 0, inst.stderr[-2000:]
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import edge_runtime; "
                            "print(edge_runtime.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(site)  # the wheel, not the checkout

    journal = work / "run.jsonl"
    run = subprocess.run([sys.executable, "-m", "edge_runtime", "run", "--record", "100",
                          "--duration", "20", "--quiet", "--journal", str(journal)],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    recs = [json.loads(line) for line in journal.read_text().splitlines()]
    session = next(r for r in recs if r["event"] == "session")
    assert session["beat_model"].startswith("beat.int8.onnx")
    assert Path(session["source"]).is_relative_to(site)  # the shipped demo record
    labels = [x for r in recs if r["event"] == "beats" for x in r["label"]]
    assert len(labels) >= 20 and all(lab in "NSVFQ" for lab in labels)

    # the installed package has no models: one line, non-zero exit
    shutil.rmtree(site / "edge_runtime" / "models")
    gone = subprocess.run([sys.executable, "-m", "edge_runtime", "run", "--record", "100",
                           "--duration", "5", "--quiet"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert gone.returncode != 0
    assert gone.stderr.strip().count("\n") == 0 and "beat.int8.onnx not found" in gone.stderr

    bench = subprocess.run([sys.executable, "-m", "edge_runtime", "bench", "--help"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert bench.returncode == 0 and "pipeline" in bench.stdout


@pytest.mark.slow
def test_bench_pipeline_runs_on_the_shipped_record(tmp_path, monkeypatch, capsys):
    """``ecgedge bench pipeline`` is package code: without a data dir it measures the shipped
    record (x real time, beat latency, peak RSS) and writes its JSON where it is told."""
    monkeypatch.setenv("ECGEDGE_DATA", str(tmp_path / "no-data-here"))
    out = tmp_path / "pipeline.json"
    rc = cli_main(["bench", "pipeline", "--variants", "int8", "--ptbxl", "0", "--repeat", "1",
                   "--out", str(out)])
    assert rc == 0
    assert "benchmarking the shipped record(s) 100" in capsys.readouterr().err
    res = json.loads(out.read_text())
    v = res["variants"]["int8"]
    assert v["records"] == 1 and v["per_record"][0]["record"] == "100"
    assert v["beat_model"].endswith("beat.int8.onnx")
    assert v["x_real_time_total"] > 1 and v["peak_rss_mb"] > 0
    assert 0 < v["beat_latency_s"]["p50"] <= v["beat_latency_s"]["p99"]
    assert res["asystole_alarm_delay"]["records"] == 1
