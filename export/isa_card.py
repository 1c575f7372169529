"""The ``parity_per_isa`` section of a model card, and rewriting it without the weights.

One entry per ISA class (the classes that decide onnxruntime's int8 kernels:
:func:`export.isa_probe.isa_class`), each with the CPU seen, the emulation used to reach it,
agreement and metric drop vs fp32 on its data (full test split or the fixed subset), the
digests of the int8 logits and decisions (equal digests = bit-identical outputs), and the
runtime's session option in force. A class that was not run says "not checked" and why:
never a silent pass. Built from docs/results/isa_parity.json by
``python bench/isa_parity.py card``, or by the export's gate (:mod:`export.isa_gate`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_runtime.errors import EcgEdgeError

#: every class the runtime ships to (issue 15), in display order
ISA_CLASSES = ("x86-64 VNNI", "x86-64 AVX2, no VNNI", "aarch64 NEON, no dot-product",
               "aarch64 dot-product")
SECTION = "parity_per_isa"


def _entry(run_label: str, run: dict[str, Any], res: dict[str, Any],
           fmt: str = "onnx") -> dict[str, Any]:
    keep = ("n", "agreement", "metric", "metric_drop", "passed", "int8_logits_sha256",
            "int8_decisions_sha256")
    cfg = run.get("session_config") or {}
    return {
        "status": "passed" if res.get("passed") else "failed",
        "run": run_label,
        "cpu_model": run["cpu"].get("proc_cpuinfo_model", ""),
        "machine": run["cpu"].get("machine", ""),
        "flags_seen": run["cpu"].get("flags_seen", []),
        "emulation": run.get("emulation"),
        "data": run.get("data", ""),
        **{k: res.get(k) for k in keep},
        "runtime_option": (cfg or "none (kernels exact on this class)") if fmt == "onnx"
        else "n/a (TFLite interpreter, XNNPACK)",
        "onnxruntime": run.get("onnxruntime"),
        "date": run.get("date"),
    }


def table_from_results(doc: dict[str, Any], task: str, fmt: str,
                       source: str = "docs/results/isa_parity.json") -> dict[str, Any]:
    """The card section for ``task``'s int8 artifact of format ``fmt`` ("onnx"/"tflite").

    Per class, the run on the most data (the full test split beats a subset), the newest on
    equal data (a fresh run of a model supersedes an older one). The subset decision digests
    are also compared across classes: one digest = identical decisions."""
    per: dict[str, dict[str, Any]] = {}
    subset_digests: dict[str, str] = {}
    runs = sorted((doc.get("runs") or {}).items(), key=lambda kv: kv[1].get("date") or "")
    for label, run in runs:  # oldest first: a newer subset run's digest wins
        res = ((run.get("tasks") or {}).get(task) or {}).get(fmt)
        if not res or "agreement" not in res:
            continue
        cls = run["cpu"]["isa_class"]
        if "subset" in (run.get("data") or ""):
            subset_digests[cls] = res.get("int8_decisions_sha256", "")
        cur = per.get(cls)
        if cur is None or (res.get("n") or 0) >= (cur.get("n") or 0):
            per[cls] = _entry(label, run, res, fmt)
    targets = {c: per.get(c, {"status": "not checked",
                              "reason": f"no {fmt} run for {task} on this class in {source}"})
               for c in ISA_CLASSES}
    for c, e in per.items():  # classes beyond the four (e.g. pre-AVX2) are shown too
        targets.setdefault(c, e)
    return {
        "bounds": doc.get("bounds"),
        "source": source,
        "generated_by": "python bench/isa_parity.py card",
        "targets": targets,
        "subset_decisions_identical_across_classes":
            len(set(subset_digests.values())) == 1 if len(subset_digests) > 1 else None,
        "not_checked": [c for c, t in targets.items() if t["status"] == "not checked"],
        "checked_all_passed": all(t["status"] == "passed" for t in targets.values()
                                  if t["status"] != "not checked"),
        "all_passed": all(t["status"] == "passed" for t in targets.values()),
    }


def current_labels(section: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """``section`` with every target's ``run`` under its name in ``doc`` today.

    A run label in the results file may be renamed after a card was written (the entry then
    keeps the old name in ``renamed_from``); the card's metadata is not rewritten for that
    alone, so comparing a card with :func:`table_from_results` maps old names to new ones."""
    new = {r["renamed_from"]: label for label, r in (doc.get("runs") or {}).items()
           if r.get("renamed_from")}
    out = json.loads(json.dumps(section))
    for t in (out.get("targets") or {}).values():
        if t.get("run") in new:
            t["run"] = new[t["run"]]
    return out


def tflite_section(native: dict[str, Any], onnx_isa: dict[str, Any],
                   bounds: dict[str, float]) -> dict[str, Any]:
    """The export's table for a TFLite int8 artifact: its own native test parity; the
    other classes are not checked by the export (its gate probes the ONNX int8), so they
    say so and point at the benchmark that does run TFLite per class."""
    native_cls = next((c for c, e in (onnx_isa.get("targets") or {}).items()
                       if e.get("status") != "not checked" and not e.get("emulation")), None)
    targets: dict[str, dict[str, Any]] = {}
    for c in ISA_CLASSES if native_cls in ISA_CLASSES else (*ISA_CLASSES, native_cls):
        if c == native_cls:
            targets[c] = {"status": "passed" if native.get("passed") else "failed",
                          "emulation": None, "data": "full test split",
                          **{k: native.get(k) for k in ("n", "agreement", "metric",
                                                       "metric_drop", "passed")},
                          "runtime_option": "n/a (TFLite interpreter, XNNPACK)"}
        elif c is not None:
            targets[c] = {"status": "not checked", "reason": "the export gate probes the ONNX "
                          "int8 only; run bench/isa_parity.py run --tflite on that class"}
    return {"bounds": bounds, "source": "export gate (native TFLite parity)",
            "targets": targets,
            "not_checked": [c for c, e in targets.items() if e["status"] == "not checked"],
            "checked_all_passed": all(e["status"] == "passed" for e in targets.values()
                                      if e["status"] != "not checked"),
            "all_passed": False}


def write_onnx_section(path: Path, section: dict[str, Any]) -> None:
    """Replace the card's ``parity_per_isa`` in an ONNX file; the graph (weights) is not
    touched, and that is checked: its serialisation must be byte-identical after."""
    import onnx  # the export extra; inspecting a card needs only the base install

    from export.onnx_export import get_card, set_card

    model = onnx.load(str(path))
    before = model.graph.SerializeToString()
    card = get_card(model)
    if card is None:
        raise EcgEdgeError(f"{path}: no model card in metadata_props")
    card[SECTION] = section
    set_card(model, card)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save_model(model, str(tmp), save_as_external_data=False)
    if onnx.load(str(tmp)).graph.SerializeToString() != before:
        tmp.unlink()
        raise EcgEdgeError(f"{path}: rewriting the card changed the graph; not written")
    tmp.replace(path)


def write_tflite_section(path: Path, section: dict[str, Any]) -> None:
    """Replace ``parity_per_isa`` in the ``.card.json`` beside a TFLite file (the
    flatbuffer itself is not opened)."""
    cp = path.with_name(path.name + ".card.json")
    if not cp.is_file():
        raise EcgEdgeError(f"{path}: no {cp.name} beside it")
    card = json.loads(cp.read_text(encoding="utf-8"))
    card[SECTION] = section
    cp.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def format_table(section: dict[str, Any]) -> list[str]:
    """Lines for ``ecgedge export inspect``."""
    lines = [f"  per-ISA parity (int8 vs fp32; bounds {json.dumps(section.get('bounds'))})"]
    targets = section.get("targets") or {}
    order = [c for c in ISA_CLASSES if c in targets] + [c for c in targets if c not in ISA_CLASSES]
    for cls in order:
        e = targets[cls]
        if e.get("status") == "not checked":
            lines.append(f"    {cls:<29} not checked: {e.get('reason', '')}")
            continue
        how = e.get("emulation") or "native"
        opt = e.get("runtime_option")
        opt = (",".join(f"{k}={v}" for k, v in opt.items()) if isinstance(opt, dict)
               else str(opt).split(" (")[0])
        dig = (e.get("int8_decisions_sha256") or "")[:12]
        drop = e.get("metric_drop")
        drop_s = f"{drop * 100:+.2f} pt" if isinstance(drop, int | float) else "?"
        agr = e.get("agreement")
        agr_s = f"{agr * 100:.2f} %" if isinstance(agr, int | float) else "?"
        lines.append(f"    {cls:<29} {e['status']:<6} n={e.get('n')} agreement {agr_s} "
                     f"{e.get('metric')} drop {drop_s} decisions {dig} option {opt}")
        lines.append(f"    {'':<29} cpu {e.get('cpu_model') or '?'} "
                     f"[{' '.join(e.get('flags_seen') or [])}] via {how}")
    same = section.get("subset_decisions_identical_across_classes")
    if same is not None:
        lines.append(f"    subset decisions identical across classes: {same}")
    return lines
