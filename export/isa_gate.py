"""Export gate: an int8 candidate is kept only if parity holds on every ISA class the
export can reach (issue 15).

Targets (:func:`targets`):

* **native** - always: the full test split, in this process;
* **x86-64 AVX2, no VNNI** - when ``qemu-x86_64`` (or ``qemu-x86_64-static``) is on PATH on
  an x86-64 host: ``qemu-x86_64 -cpu Haswell`` runs :mod:`export.isa_probe` on the fixed
  test subset (:mod:`export.isa_subset`) with this venv's python;
* **aarch64 NEON (Cortex-A72)** and **aarch64 dot-product (max)** - when an arm64 root is
  given (``--arm64-root``, as ``bench/arm64.sh`` builds it: a venv with the project at
  /opt/ecgedge/venv, binfmt_misc for aarch64): chroot into it, with an ARM /proc/cpuinfo
  bind-mounted (onnxruntime segfaults on the host's under qemu), needs root.

A target that cannot be reached is recorded as "not checked" with the reason in the card's
``parity_per_isa``: never passed silently. The emulated logits are compared with torch on
the same subset by :func:`export.parity.compare` with the export's int8 bounds.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import EcgEdgeError
from export.isa_card import ISA_CLASSES
from export.isa_probe import cpu_info
from export.isa_subset import subset
from export.parity import compare, decisions, probabilities

PROBE = Path(__file__).resolve().parent / "isa_probe.py"
REPO = PROBE.parent.parent
ARM_CPUS = {"cortex-a72": "aarch64 NEON, no dot-product", "max": "aarch64 dot-product"}
TIMEOUT_S = 3600


@dataclass
class Target:
    """One ISA class and how to reach it (``reason`` non-empty: unreachable)."""

    isa_class: str
    how: str
    kind: str = "native"  # native | qemu-x86 | arm64-root | unreachable
    argv: list[str] = field(default_factory=list)
    root: Path | None = None
    qemu_cpu: str = ""
    reason: str = ""


def _qemu_x86() -> str | None:
    return shutil.which("qemu-x86_64") or shutil.which("qemu-x86_64-static")


def targets(arm64_root: str | Path | None = None) -> list[Target]:
    """Every ISA class, reachable or with the reason it is not."""
    native = cpu_info()
    out = [Target(native["isa_class"], "native")]
    haswell = "x86-64 AVX2, no VNNI"
    if haswell != native["isa_class"]:
        qemu = _qemu_x86()
        if native["machine"] not in ("x86_64", "amd64"):
            out.append(Target(haswell, "", "unreachable", reason="host is not x86-64"))
        elif not qemu:
            out.append(Target(haswell, "", "unreachable", reason="qemu-x86_64 not on PATH "
                              "(apt-get install qemu-user-static)"))
        else:
            out.append(Target(haswell, f"{Path(qemu).name} -cpu Haswell (user mode)",
                              "qemu-x86", [qemu, "-cpu", "Haswell", sys.executable]))
    root = Path(arm64_root) if arm64_root else None
    if root is not None:
        py = root / "opt/ecgedge/venv/bin/python"
        if not py.exists():
            raise EcgEdgeError(f"--arm64-root {root}: no {py.relative_to(root)} "
                               "(build the root with bench/arm64.sh)")
        if os.geteuid() != 0:
            raise EcgEdgeError("--arm64-root needs root (chroot and a /proc/cpuinfo mount)")
    for cpu, cls in ARM_CPUS.items():
        if cls == native["isa_class"]:
            continue
        if root is None:
            out.append(Target(cls, "", "unreachable", reason="no --arm64-root given"))
        else:
            out.append(Target(cls, f"qemu-aarch64 -cpu {cpu} (binfmt, arm64 root {root})",
                              "arm64-root", root=root, qemu_cpu=cpu))
    return out


def _arm_cpuinfo(cpu: str) -> str:
    """An ARM /proc/cpuinfo like a Pi 4 (Cortex-A72) or a dot-product core (as arm64.sh)."""
    part, feat = "0xd08", "fp asimd evtstrm crc32 cpuid"
    if cpu != "cortex-a72":
        part = "0xd0b"
        feat = ("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                "asimdrdm lrcpc dcpop asimddp")
    return "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {feat}\n"
                   "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
                   f"CPU part\t: {part}\nCPU revision\t: 3\n\n" for i in range(4))


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EcgEdgeError(f"{what}: could not run ({exc})") from None
    if r.returncode != 0:
        last = (r.stderr or r.stdout or "").strip().splitlines()[-1:] or [f"rc {r.returncode}"]
        raise EcgEdgeError(f"{what}: probe failed (rc {r.returncode}): {last[0]}")


def run_probe(target: Target, model: Path, inputs: dict[str, np.ndarray]
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """Logits of ``model`` on ``inputs`` on ``target``'s CPU, and what that CPU reported."""
    if target.kind == "native":
        from edge_runtime import inference
        from export.parity import artifact_logits

        return artifact_logits(model, inputs), {"cpu": cpu_info(),
                                                "session_config": inference.ort_session_config()}
    what = f"{target.isa_class} via {target.how}"
    if target.kind == "qemu-x86":
        with tempfile.TemporaryDirectory(prefix="ecgedge_isa_") as tmp_s:
            tmp = Path(tmp_s)
            np.savez(tmp / "in.npz", **inputs)
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            _run([*target.argv, str(PROBE), str(model), str(tmp / "in.npz"),
                  str(tmp / "out.npz")], env, what)
            return _read(tmp / "out.npz")
    root = target.root
    assert root is not None
    tmp = Path(tempfile.mkdtemp(prefix="ecgedge_isa_", dir=root / "tmp"))
    inside = "/" + str(tmp.relative_to(root))
    mounted: list[Path] = []
    try:
        shutil.copyfile(PROBE, tmp / "isa_probe.py")
        shutil.copyfile(model, tmp / model.name)
        np.savez(tmp / "in.npz", **inputs)
        (tmp / "cpuinfo").write_text(_arm_cpuinfo(target.qemu_cpu))
        if not (root / "proc/self").exists():
            _run(["mount", "-t", "proc", "proc", str(root / "proc")], dict(os.environ), what)
            mounted.append(root / "proc")
        _run(["mount", "--bind", str(tmp / "cpuinfo"), str(root / "proc/cpuinfo")],
             dict(os.environ), what)
        mounted.append(root / "proc/cpuinfo")
        env = {"QEMU_CPU": target.qemu_cpu, "PATH": "/opt/ecgedge/venv/bin:/usr/bin:/bin",
               "HOME": "/root", "LANG": "C.UTF-8"}
        _run(["chroot", str(root), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()),
              "python", f"{inside}/isa_probe.py", f"{inside}/{model.name}", f"{inside}/in.npz",
              f"{inside}/out.npz"], {**os.environ, "QEMU_CPU": target.qemu_cpu}, what)
        return _read(tmp / "out.npz")
    finally:
        for m in reversed(mounted):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def native_only() -> list[Target]:
    """The default when the caller asks for no emulated targets: every other class is
    recorded as not checked."""
    native = cpu_info()["isa_class"]
    why = "not requested (export gate run without emulated targets)"
    return [Target(native, "native"),
            *(Target(c, "", "unreachable", reason=why) for c in ISA_CLASSES if c != native)]


def _read(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    z = np.load(path)
    return np.asarray(z["logits"]), json.loads(str(z["info"]))


def _sha(a: np.ndarray, dtype) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype)).hexdigest()


def check(card: dict[str, Any], model: Path, test_inputs: dict[str, np.ndarray],
          test_y: np.ndarray, ref_test: np.ndarray, tgts: list[Target],
          bounds: dict[str, float], log=print,
          native_logits: np.ndarray | None = None) -> dict[str, Any]:
    """The ``parity_per_isa`` section for one int8 candidate (native: full test split;
    emulated: the fixed subset), each reached class judged with the int8 ``bounds``."""
    idx = subset(card["task"], test_y)
    native_sub: str | None = None
    per: dict[str, dict[str, Any]] = {}
    for t in tgts:
        if t.reason:
            per[t.isa_class] = {"status": "not checked", "reason": t.reason}
            continue
        full = t.kind == "native"
        inputs = test_inputs if full else {k: np.ascontiguousarray(v[idx])
                                           for k, v in test_inputs.items()}
        ref, y = (ref_test, test_y) if full else (ref_test[idx], test_y[idx])
        if full and native_logits is not None:  # already computed by the caller
            from edge_runtime import inference

            logits, info = native_logits, {"cpu": cpu_info(),
                                           "session_config": inference.ort_session_config()}
        else:
            logits, info = run_probe(t, model, inputs)
        seen = info["cpu"].get("isa_class")
        if seen != t.isa_class:  # e.g. an emulator that ignored -cpu: say so, never pass
            per[t.isa_class] = {"status": "not checked", "reason": f"{t.how} reported "
                                f"{seen!r}, not {t.isa_class!r}", "cpu": info["cpu"]}
            log(f"    {t.isa_class:<29} not checked: {per[t.isa_class]['reason']}")
            continue
        res = compare(card, "int8", ref, logits, y, bounds).to_dict()
        sub_logits = logits[idx] if full else logits
        dec = decisions(card, probabilities(card, sub_logits))
        e = {
            "status": "passed" if res["passed"] else "failed",
            "cpu_model": info["cpu"].get("proc_cpuinfo_model", ""),
            "machine": info["cpu"].get("machine", ""),
            "flags_seen": info["cpu"].get("flags_seen", []),
            "isa_class_seen": info["cpu"].get("isa_class"),
            "emulation": None if full else t.how,
            "data": "full test split" if full else "fixed stratified subset of the test split",
            **{k: res.get(k) for k in ("n", "agreement", "metric", "metric_drop", "passed")},
            "int8_logits_sha256": _sha(logits, np.float32),
            "subset_int8_decisions_sha256": _sha(dec, np.int8),
            "runtime_option": info.get("session_config") or "none (kernels exact on this class)",
        }
        if full:
            native_sub = e["subset_int8_decisions_sha256"]
        per[t.isa_class] = e
        log(f"    {t.isa_class:<29} {e['status']} n={e['n']} agreement={e['agreement']:.4f} "
            f"drop={e['metric_drop'] * 100:+.2f} pt ({t.how})")
    subs = {c: e["subset_int8_decisions_sha256"] for c, e in per.items()
            if "subset_int8_decisions_sha256" in e}
    checked = [e for e in per.values() if e["status"] != "not checked"]
    order = [c for c in ISA_CLASSES if c in per] + [c for c in per if c not in ISA_CLASSES]
    return {
        "bounds": bounds,
        "source": "export gate (export/isa_gate.py)",
        "host": platform.machine(),
        "targets": {c: per[c] for c in order},
        "subset_decisions_identical_across_classes":
            len(set(subs.values())) == 1 if len(subs) > 1 else None,
        "native_subset_decisions_sha256": native_sub,
        "not_checked": [c for c, e in per.items() if e["status"] == "not checked"],
        "checked_all_passed": all(e["status"] == "passed" for e in checked),
        "all_passed": len(checked) == len(per) and all(e["status"] == "passed"
                                                        for e in checked),
    }
