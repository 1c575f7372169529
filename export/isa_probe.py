"""What this CPU is, and what an artifact computes on it (issue 15's per-ISA parity).

Runs with numpy + the runtime only (no torch, no ``export`` package), so the export can
start it by path under an emulated CPU (``qemu-x86_64 -cpu Haswell``, or inside an arm64
root) and read back the logits::

    python export/isa_probe.py MODEL INPUTS.npz OUT.npz

``INPUTS.npz`` holds the model's named inputs; ``OUT.npz`` gets ``logits`` and ``info``
(JSON: :func:`cpu_info`, the runtime's onnxruntime session config, versions).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: ISA flags that decide onnxruntime's int8 kernel (numpy's names).
KERNEL_FLAGS = ("AVX2", "AVX512F", "AVX512BW", "AVX512VNNI", "AVX512_VNNI", "AVX_VNNI",
                "AVXVNNI", "ASIMD", "ASIMDHP", "ASIMDDP", "ASIMDFHM", "SVE", "I8MM")


def cpu_info() -> dict[str, Any]:
    """What this process runs on. Flags come from numpy's CPUID (x86) / HWCAP (aarch64)
    probe, which under QEMU reports the emulated CPU; /proc/cpuinfo's model name is the
    host's under qemu-x86_64 (qemu passes it through), so both are recorded."""
    from edge_runtime.ort_config import cpu_features

    on = sorted(k for k, v in cpu_features().items() if v)
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key = line.split(":")[0].strip().lower()
            if key in ("model name", "cpu part", "hardware") and ":" in line:
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    machine = platform.machine().lower()
    return {
        "machine": machine,
        "proc_cpuinfo_model": model,
        "flags_seen": [f for f in on if f in KERNEL_FLAGS],
        "isa_class": isa_class(machine, set(on)),
    }


def isa_class(machine: str, flags: set[str]) -> str:
    """The class that decides onnxruntime's int8 kernel (docs/portability.md)."""
    if machine in ("x86_64", "amd64"):
        if flags & {"AVX512VNNI", "AVX512_VNNI", "AVX_VNNI", "AVXVNNI"}:
            return "x86-64 VNNI"
        if "AVX2" in flags:
            return "x86-64 AVX2, no VNNI"
        return "x86-64 pre-AVX2"
    if machine in ("aarch64", "arm64"):
        return "aarch64 dot-product" if "ASIMDDP" in flags else "aarch64 NEON, no dot-product"
    return machine


def probe(model_path: Path, inputs_npz: Path, out_npz: Path, batch: int = 256) -> None:
    """Logits of ``model_path`` on this CPU through the runtime's own loader."""
    from edge_runtime import inference

    z = np.load(inputs_npz)
    inputs = {k: np.ascontiguousarray(z[k]) for k in z.files}
    model = inference.load_model(model_path, threads=1)
    n = next(iter(inputs.values())).shape[0]
    logits = np.concatenate([model.logits(**{k: v[i:i + batch] for k, v in inputs.items()})
                             for i in range(0, n, batch)])
    import onnxruntime as ort

    info = {"cpu": cpu_info(), "session_config": inference.ort_session_config(),
            "onnxruntime": ort.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
    np.savez(out_npz, logits=logits, info=np.asarray(json.dumps(info)))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: python export/isa_probe.py MODEL INPUTS.npz OUT.npz", file=sys.stderr)
        raise SystemExit(2)
    probe(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
