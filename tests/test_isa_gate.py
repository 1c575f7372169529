"""Export gate per ISA class (issue 15): an int8 candidate failing on one reachable class is
dropped and the next (validation order) kept; unreachable classes are recorded as "not
checked", never passed; the card's per-ISA table is written without touching the graph."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch", reason="the export needs torch (train extra)")

from edge_runtime.errors import EcgEdgeError  # noqa: E402
from edge_runtime.inference import load_model, read_card  # noqa: E402
from export import isa_gate  # noqa: E402
from export.datasets import ExportData  # noqa: E402
from export.isa_card import (  # noqa: E402
    ISA_CLASSES,
    current_labels,
    format_table,
    table_from_results,
    tflite_section,
    write_onnx_section,
    write_tflite_section,
)
from export.isa_probe import cpu_info  # noqa: E402
from export.onnx_export import get_card  # noqa: E402
from export.parity import artifact_logits  # noqa: E402
from export.pipeline import _pick, export_checkpoint  # noqa: E402
from tests import small_beat  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NATIVE = cpu_info()["isa_class"]
OTHER = next(c for c in ISA_CLASSES if c != NATIVE)  # the "emulated" class of these tests
UNREACHED = [c for c in ISA_CLASSES if c not in (NATIVE, OTHER)]
LOOSE = {"int8": {"min_agreement": 0.5, "max_metric_drop": 1.0}}


_split = small_beat.split


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return small_beat.write_checkpoint(tmp_path_factory.mktemp("ck") / "beat.pt")


DATA = ExportData(_split(64, 1), _split(64, 2), _split(96, 3), "synthetic", ["t1"])
TARGETS = [isa_gate.Target(NATIVE, "native"),
           isa_gate.Target(OTHER, "fake emulator", "qemu-x86"),
           *(isa_gate.Target(c, "", "unreachable", reason="no --arm64-root given")
             for c in UNREACHED)]


def _fake_probe(fail_first: int):
    """Stands in for the emulator: the real int8 logits (computed natively), except that
    the first ``fail_first`` candidates probed come back with every decision flipped."""
    seen: list[str] = []

    def probe(target, model, inputs):
        assert target.isa_class == OTHER  # native never goes through the probe here
        seen.append(model.name)
        logits = artifact_logits(model, inputs)
        if len(seen) <= fail_first:
            logits = -logits  # argmax -> argmin: agreement ~0
        return logits, {"cpu": {"isa_class": OTHER, "machine": "x86_64", "flags_seen": ["AVX2"],
                                "proc_cpuinfo_model": "fake"}, "session_config": {}}
    probe.seen = seen
    return probe


def test_candidate_failing_on_one_isa_is_dropped_and_next_kept(ckpt, tmp_path, monkeypatch):
    probe = _fake_probe(fail_first=1)
    monkeypatch.setattr(isa_gate, "run_probe", probe)
    lines: list[str] = []
    rep = export_checkpoint(ckpt, tmp_path / "m", DATA, methods=("minmax", "percentile"),
                            keep_float=("none",), log=lines.append, bounds=LOOSE,
                            isa_targets=TARGETS)
    val_choice = _pick(rep.candidates, list(rep.candidates))
    assert len(probe.seen) == 2  # the validation choice failed, the next one was probed
    assert list(rep.isa_dropped) == [val_choice] and OTHER in rep.isa_dropped[val_choice]
    assert rep.method != val_choice and rep.method in rep.candidates
    assert any(f"dropped {val_choice}" in m for m in lines)
    card = get_card(onnx.load(str(tmp_path / "m" / "beat.int8.onnx")))
    isa = card["parity_per_isa"]
    assert isa["targets"][NATIVE]["status"] == "passed"
    assert isa["targets"][NATIVE]["n"] == len(DATA.test)
    assert isa["targets"][OTHER]["status"] == "passed"
    assert isa["targets"][OTHER]["emulation"] == "fake emulator"
    assert isa["checked_all_passed"] is True and isa["all_passed"] is False
    for c in UNREACHED:  # recorded, never silently passed
        assert isa["targets"][c] == {"status": "not checked", "reason": "no --arm64-root given"}
    assert sorted(isa["not_checked"]) == sorted(UNREACHED)
    assert card["quantization"]["calibration"]["dropped_by_isa_gate"] == rep.isa_dropped
    assert "per-ISA parity" in "\n".join(format_table(isa))


def test_failing_on_every_candidate_writes_nothing(ckpt, tmp_path, monkeypatch):
    monkeypatch.setattr(isa_gate, "run_probe", _fake_probe(fail_first=99))
    with pytest.raises(EcgEdgeError, match=f"parity bound broken.*int8 on {OTHER}"):
        export_checkpoint(ckpt, tmp_path / "m", DATA, methods=("minmax", "percentile"),
                          keep_float=("none",), log=lambda m: None, bounds=LOOSE,
                          isa_targets=TARGETS)
    assert not (tmp_path / "m").exists()


def test_default_gate_is_native_only_with_the_rest_not_checked(ckpt, tmp_path):
    rep = export_checkpoint(ckpt, tmp_path / "m", DATA, methods=("minmax",),
                            keep_float=("none",), log=lambda m: None, bounds=LOOSE)
    isa = rep.parity_per_isa
    assert isa["targets"][NATIVE]["status"] == "passed"
    assert sorted(isa["not_checked"]) == sorted(c for c in ISA_CLASSES if c != NATIVE)


def test_emulator_reporting_the_wrong_class_is_not_a_pass(ckpt, tmp_path, monkeypatch):
    def probe(target, model, inputs):
        return artifact_logits(model, inputs), {"cpu": {"isa_class": NATIVE},
                                                "session_config": {}}
    monkeypatch.setattr(isa_gate, "run_probe", probe)
    rep = export_checkpoint(ckpt, tmp_path / "m", DATA, methods=("minmax",),
                            keep_float=("none",), log=lambda m: None, bounds=LOOSE,
                            isa_targets=TARGETS)
    e = rep.parity_per_isa["targets"][OTHER]
    assert e["status"] == "not checked" and "reported" in e["reason"]


def test_targets_say_why_a_class_is_unreachable(monkeypatch, tmp_path):
    monkeypatch.setattr(isa_gate.shutil, "which", lambda name: None)
    ts = {t.isa_class: t for t in isa_gate.targets(None)}
    assert ts[NATIVE].kind == "native" and not ts[NATIVE].reason
    for c in ISA_CLASSES:
        if c != NATIVE:
            assert ts[c].reason, c
    avx2 = "x86-64 AVX2, no VNNI"
    if NATIVE.startswith("x86") and NATIVE != avx2:
        assert "qemu-x86_64 not on PATH" in ts[avx2].reason
    with pytest.raises(EcgEdgeError, match="bench/arm64.sh"):
        isa_gate.targets(tmp_path / "no-root")


@pytest.mark.skipif(not isa_gate._qemu_x86() or cpu_info()["machine"] != "x86_64",
                    reason="needs qemu-x86_64 (qemu-user-static) on an x86-64 host")
def test_real_haswell_probe_gives_the_native_logits() -> None:
    """With the runtime's exact-int8 option the emulated AVX2-only CPU computes the same
    logits as this one (issue 15's bit-identity), through the real subprocess path."""
    t = next(t for t in isa_gate.targets(None) if t.kind == "qemu-x86")
    rng = np.random.default_rng(0)
    model = REPO / "models" / "beat.int8.onnx"
    n_rr = read_card(model)["inputs"][1]["shape"][1]  # the card's RR subset (5 since issue 16)
    inputs = {"x": rng.standard_normal((32, 2, 126)).astype(np.float32),
              "rr": rng.uniform(0.4, 1.4, (32, n_rr)).astype(np.float32)}
    logits, info = isa_gate.run_probe(t, model, inputs)
    assert info["cpu"]["isa_class"] == "x86-64 AVX2, no VNNI"
    assert info["session_config"] == {"session.x64quantprecision": "1"}
    assert np.array_equal(logits, artifact_logits(model, inputs))


def test_shipped_cards_carry_the_per_isa_table() -> None:
    doc = json.loads((REPO / "docs/results/isa_parity.json").read_text())
    for task in ("beat", "hyp", "findings6"):
        card = read_card(REPO / "models" / f"{task}.int8.onnx")
        isa = current_labels(card["parity_per_isa"], doc)  # a renamed run label is the same run
        assert isa == json.loads(json.dumps(table_from_results(doc, task, "onnx")))
        assert set(isa["targets"]) == set(ISA_CLASSES) and isa["checked_all_passed"] is True
        assert isa["subset_decisions_identical_across_classes"] is True
        assert not isa["not_checked"] and isa["all_passed"] is True  # every class, this model
        tpath = REPO / "models" / f"{task}.int8.tflite"
        if not tpath.is_file():  # a model shipped as ONNX only (no TFLite converter at export)
            continue
        tcard = read_card(tpath)
        assert tcard["parity_per_isa"] == json.loads(json.dumps(
            table_from_results(doc, task, "tflite")))
        assert tcard["parity_per_isa"]["all_passed"] is True  # TFLite too, all four classes


def test_card_rewrite_keeps_graph_and_outputs(tmp_path) -> None:
    src = REPO / "models" / "hyp.int8.onnx"
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    before = onnx.load(str(dst)).graph.SerializeToString()
    rng = np.random.default_rng(0)
    card = read_card(dst)
    feeds = {i["name"]: rng.standard_normal([3 if d is None else d for d in i["shape"]])
             .astype(np.float32) for i in card["inputs"]}
    out0 = load_model(dst).logits(**feeds)
    write_onnx_section(dst, {"targets": {}, "marker": 1})
    assert onnx.load(str(dst)).graph.SerializeToString() == before
    assert read_card(dst)["parity_per_isa"]["marker"] == 1
    assert np.array_equal(load_model(dst).logits(**feeds), out0)


def test_export_tflite_section_is_native_only_and_says_so(tmp_path) -> None:
    onnx_isa = {"targets": {NATIVE: {"status": "passed", "emulation": None},
                            OTHER: {"status": "passed", "emulation": "fake"}}}
    native = {"n": 10, "agreement": 1.0, "metric": "macro_f1", "metric_drop": 0.0,
              "passed": True}
    sec = tflite_section(native, onnx_isa, LOOSE["int8"])
    assert sec["targets"][NATIVE]["status"] == "passed"
    assert sec["targets"][OTHER]["status"] == "not checked"  # ONNX passing says nothing here
    assert set(sec["not_checked"]) == set(ISA_CLASSES) - {NATIVE}
    tfl = tmp_path / "beat.int8.tflite"
    tfl.write_bytes(b"flatbuffer")
    (tmp_path / "beat.int8.tflite.card.json").write_text(json.dumps({"task": "beat"}))
    write_tflite_section(tfl, sec)
    assert tfl.read_bytes() == b"flatbuffer"
    card = json.loads((tmp_path / "beat.int8.tflite.card.json").read_text())
    assert card["task"] == "beat" and card["parity_per_isa"] == json.loads(json.dumps(sec))
