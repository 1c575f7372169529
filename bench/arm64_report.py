"""docs/results/arm64.json from the outputs of bench/arm64.sh (the Raspberry Pi proof).

Compares each emulated aarch64 ``ecgedge run --record`` journal with the same run on the
x86 host: beat positions must be identical and labels agree on >= 99.5 % of beats. Collects
the demo summaries, the parity runs (also merged into docs/results/isa_parity.json), the
test results and the emulated wall times, which are QEMU TCG speed, not a Pi's.

    python bench/arm64_report.py --out-dir /var/tmp/ecgedge-arm64/out
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
MIN_LABEL_AGREEMENT = 0.995


def journal_beats(path: Path) -> tuple[list[int], list[str], list[float], dict[str, Any]]:
    """(samples, labels, probabilities, summary) of a run journal's beats events."""
    samples: list[int] = []
    labels: list[str] = []
    probs: list[float] = []
    summary: dict[str, Any] = {}
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        if ev.get("event") == "beats":
            samples += ev["sample"]
            labels += ev["label"]
            probs += ev.get("prob") or []
        elif ev.get("event") == "summary":
            summary = {k: ev.get(k) for k in ("duration_s", "beats", "beats_per_class",
                                              "alerts")}
    return samples, labels, probs, summary


def compare_journals(ref: Path, arm: Path) -> dict[str, Any]:
    s0, l0, p0, sum0 = journal_beats(ref)
    s1, l1, p1, sum1 = journal_beats(arm)
    same_pos = s0 == s1
    if same_pos:
        agree = sum(a == b for a, b in zip(l0, l1, strict=True)) / max(1, len(l0))
    else:  # labels of the beats found at the same sample in both
        pos1 = dict(zip(s1, l1, strict=True))
        common = [(lab, pos1[s]) for s, lab in zip(s0, l0, strict=True) if s in pos1]
        agree = sum(a == b for a, b in common) / max(1, len(common))
    return {
        "beats_x86": len(s0), "beats_arm": len(s1),
        "positions_identical": same_pos,
        "label_agreement": agree,
        "labels_differing": sum(a != b for a, b in zip(l0, l1, strict=False)) if same_pos
        else None,
        "prob_max_abs_diff": max((abs(a - b) for a, b in zip(p0, p1, strict=False)), default=0.0)
        if same_pos and len(p0) == len(p1) else None,
        "alerts_identical": sum0.get("alerts") == sum1.get("alerts"),
        "summary_x86": sum0, "summary_arm": sum1,
        "passed": same_pos and agree >= MIN_LABEL_AGREEMENT,
    }


def read_timings(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            cpu, step, ms, rc = line.split("\t")
            out.setdefault(cpu, {})[step] = {"wall_s": int(ms) / 1000, "rc": int(rc)}
    return out


def tail(path: Path, n: int = 3) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-n:] if path.is_file() else []


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench arm64_report",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, required=True,
                    help="folder bench/arm64.sh wrote (journals, timings, test logs)")
    ap.add_argument("--records", default="100 208 233",
                    help="space-separated MIT-BIH records run on both CPUs (default 100 208 233)")
    ap.add_argument("--cpus", default="cortex-a72 max",
                    help="space-separated QEMU -cpu models that were run (default cortex-a72 max)")
    ap.add_argument("--out", type=Path, default=RESULTS / "arm64.json",
                    help="JSON to write (default docs/results/arm64.json)")
    args = ap.parse_args()
    d = args.out_dir
    timings = read_timings(d / "timings.tsv")
    doc: dict[str, Any] = {
        "what": "aarch64 (Raspberry Pi class) proof under QEMU user-mode emulation: arm64 "
        "Debian bookworm root, project wheel installed offline from aarch64 wheels",
        "command": "sudo bench/arm64.sh",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "python": platform.python_version()},
        "install": tail(d / "install.log", 2),
        "speed_note": "wall times are QEMU TCG emulation of aarch64 on an x86 host, not a "
        "Pi's speed; see docs/portability.md for the Pi 4 estimate",
        "cpus": {},
    }
    iso = json.loads((RESULTS / "isa_parity.json").read_text()) if (
        RESULTS / "isa_parity.json").is_file() else {}
    ok = True
    for cpu in args.cpus.split():
        entry: dict[str, Any] = {"cpu_probe": tail(d / f"cpu_{cpu}.log", 1),
                                 "timings": timings.get(cpu, {}), "records": {}}
        entry["demo"] = tail(d / f"demo_{cpu}.log", 4)
        for r in args.records.split():
            ref, arm = d / f"run_{r}_x86.jsonl", d / f"run_{r}_{cpu}.jsonl"
            if ref.is_file() and arm.is_file():
                entry["records"][r] = compare_journals(ref, arm)
            else:
                entry["records"][r] = {"missing": [p.name for p in (ref, arm) if not p.is_file()],
                                       "passed": False}
            ok &= entry["records"][r]["passed"]
        par = d / f"isa_parity_{cpu}.json"
        if par.is_file():
            runs = json.loads(par.read_text()).get("runs", {})
            entry["parity"] = {label: {"isa_class": run["cpu"]["isa_class"],
                                       "passed": run["passed"],
                                       "tasks": {t: {k: v["onnx"][k] for k in
                                                     ("agreement", "metric", "metric_drop")}
                                                 for t, v in run["tasks"].items()}}
                               for label, run in runs.items()}
            iso.setdefault("runs", {}).update(runs)
            ok &= all(run["passed"] for run in runs.values())
        entry["tests"] = tail(d / f"tests_{cpu}.log", 1)
        doc["cpus"][cpu] = entry
    doc["passed"] = ok
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    if iso:
        (RESULTS / "isa_parity.json").write_text(json.dumps(iso, indent=2) + "\n")
    print(f"wrote {args.out} passed={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
